"""Job files of `vidstyle batch`: resolution of paths and settings, every `vidstyle video` option as
a shot key (masks, region, flow folder, photoreal, passes, ...), every problem listed at once."""

from __future__ import annotations

import click
import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from segmentation import write_mask
from vidstyle.batch.jobfile import JobFileError, load_jobfile
from vidstyle.batch.options import NOT_SHOT_KEYS, option_key, shot_options
from vidstyle.cli import main


@pytest.fixture
def media(tmp_path):
    """A 3-frame clip (real photo, known motion) and a style image beside the job file."""
    clip = tmp_path / "clips" / "pan"
    clip.mkdir(parents=True)
    for k, frame in enumerate(render_clip(skimage.data.astronaut(), (48, 36), Motion(dx=1.0), 3).frames):
        cv2.imwrite(str(clip / f"f{k:02d}.png"), np.ascontiguousarray(frame[..., ::-1]))
    style = cv2.resize(skimage.data.immunohistochemistry(), (32, 32), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "style.png"), style[..., ::-1])
    return tmp_path


def write(folder, text):
    path = folder / "jobs.toml"
    path.write_text(text)
    return path


def test_paths_resolve_against_the_job_file_and_overrides_build_the_config(media, monkeypatch, tmp_path_factory):
    path = write(media, """
[defaults]
style = "style.png"
[defaults.overrides]
size = 48
[defaults.overrides.optimizer]
pyramid = 1
[[shot]]
input = "clips/pan"
end = 2
[shot.overrides.optimizer]
iterations = 4
[[shot]]
name = "second"
input = "clips/pan"
preset = "quality"
output = "elsewhere/second"
encode = false
""")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # relative to the file, not the working folder
    batch = load_jobfile(path)
    first, second = batch.shots
    assert batch.output == media / "renders"
    assert first.name == "pan" and first.source == media / "clips" / "pan"
    assert first.output == media / "renders" / "pan" and first.styles == (media / "style.png",)
    assert first.frame_count == 2 and first.selection.end == 2
    opt = first.config.optimizer
    assert (first.config.size, opt.iterations, opt.first_iterations, opt.pyramid, opt.pyramid_iterations) == \
        (48, 4, 4, 1, None)  # iterations also sets first_iterations; pyramid drops the preset's level budgets
    assert second.output == media / "elsewhere" / "second" and not second.encode
    assert second.key() != first.key() and first.key() == load_jobfile(path).shots[0].key()


def test_every_problem_is_listed_at_once(media):
    path = write(media, """
outptu = "typo"
[defaults]
style = "style.png"
colour = "red"
[[shot]]
input = "clips/missing"
[[shot]]
name = "b"
input = "clips/pan"
style = "nostyle.png"
[shot.overrides]
size = 5
[[shot]]
name = "c"
input = "clips/pan"
preset = "nope"
start = 0
[[shot]]
name = "d"
input = "clips/pan"
sped = 2
[shot.overrides.optimizer]
iteration = 3
[[shot]]
name = "d"
input = "clips/pan"
""")
    with pytest.raises(JobFileError) as info:
        load_jobfile(path)
    text = "\n".join(info.value.problems)
    for expected in ("unknown key 'outptu'", "[defaults]: unknown key 'colour'", "clips/missing not found",
                     "nostyle.png not found", "size must be between 16", "unknown preset 'nope'",
                     "start must be a whole number", "unknown key 'sped'", "unknown key optimizer.iteration",
                     "share the name d"):
        assert expected in text, expected
    assert len(info.value.problems) == 10


def test_invalid_toml_and_missing_file(media):
    with pytest.raises(JobFileError, match="not valid TOML"):
        load_jobfile(write(media, "[[shot]\ninput = 1"))
    with pytest.raises(JobFileError, match="not found"):
        load_jobfile(media / "absent.toml")
    with pytest.raises(JobFileError, match="no shots"):
        load_jobfile(write(media, 'output = "x"\n'))


def test_cli_lists_all_problems_and_exits_2_before_any_work(media, capfd):
    path = write(media, '[[shot]]\ninput = "clips/missing"\n[[shot]]\ninput = "clips/pan"\nstyle = "no.png"\n')
    with pytest.raises(SystemExit) as info:
        main(["batch", str(path)])
    err = capfd.readouterr().err
    assert info.value.code == 2 and "3 problem(s), nothing was run" in err  # shot 1 also lacks a style
    assert "clips/missing not found" in err and "no.png not found" in err and "Traceback" not in err
    assert not (media / "renders").exists()


def test_cli_check_lists_shots(media, capfd):
    path = write(media, '[defaults]\nstyle = "style.png"\n[[shot]]\ninput = "clips/pan"\n')
    main(["batch", str(path), "--check"])
    out = capfd.readouterr().out
    assert "pan:" in out and "(3 frames)" in out and "1 shot(s) OK" in out


# ---- `vidstyle video` options as shot keys -----------------------------------------------------
@pytest.fixture
def masks(media):
    """Per-frame masks of the 3-frame clip, a style mask and a region mask beside the job file."""
    labels = np.zeros((36, 48), np.int32)
    labels[:, 24:] = 1
    (media / "masks").mkdir()
    for k in range(3):
        write_mask(media / "masks" / f"m{k}.png", labels)
    write_mask(media / "style_mask.png", (np.arange(32)[None, :].repeat(32, 0) >= 16).astype(np.int32))
    region = np.zeros((36, 48), np.uint8)
    region[4:30, 6:40] = 255
    cv2.imwrite(str(media / "region.png"), region)
    return media


def test_every_video_option_is_a_shot_key_or_set_by_the_batch():
    from vidstyle.cli.video import video_command

    options = [p for p in video_command.params if isinstance(p, click.Option)]
    keys = shot_options()
    for param in options:
        assert option_key(param) in keys or param.name in NOT_SHOT_KEYS, param.opts
    assert set(NOT_SHOT_KEYS) <= {p.name for p in options}
    assert {"content_masks", "style_mask", "auto_masks", "grabcut", "region", "flow_dir", "photoreal",
            "matting_weight", "passes", "long_term", "crf", "no_cache", "cache_dir", "iterations"} <= set(keys)


def test_video_options_build_the_shot_as_the_command_does(masks, monkeypatch, tmp_path_factory):
    path = write(masks, """
[defaults]
style = "style.png"
size = 48
photoreal = true
[[shot]]
name = "files"
input = "clips/pan"
content_masks = "masks"
style_mask = "style_mask.png"
region = "region.png"
flow_dir = "flows/pan"
matting_weight = 50
long_term = [1, 2]
crf = 20
iterations = 4
no_cache = true
[[shot]]
name = "auto"
input = "clips/pan"
content_masks = "auto"
auto_masks = 3
region = "auto:1"
photoreal = false
passes = 2
multipass_temporal_from = 2
[shot.overrides.optimizer]
iterations = 7
[[shot]]
name = "strings"
input = "clips/pan"
long_term = "1,2"
grabcut = "4,4,30,20"
region = "grabcut"
""")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # paths relative to the job file
    files, auto, strings = load_jobfile(path).shots
    assert files.masks.content_masks == str(masks / "masks") and files.masks.region == str(masks / "region.png")
    assert files.masks.style_mask == str(masks / "style_mask.png")
    assert strings.config.photoreal.enabled  # from [defaults]
    assert files.flow_dir == masks / "flows" / "pan" and files.no_cache and files.cache_dir is None
    photoreal, video, opt = files.config.photoreal, files.config.video, files.config.optimizer
    assert (photoreal.enabled, photoreal.matting_weight, video.long_term, video.crf) == (True, 50, (1, 2), 20)
    assert (opt.iterations, opt.first_iterations) == (4, 4)  # as --iterations
    assert (auto.masks.label_source, auto.masks.k, auto.masks.region_label()) == ("auto", 3, 1)
    assert not auto.config.photoreal.enabled and auto.config.video.passes == 2  # shot beats [defaults]
    assert auto.config.optimizer.iterations == 7
    assert strings.config.video.long_term == (1, 2) and strings.masks.grabcut == (4, 4, 30, 20)
    key = files.key()
    write_mask(masks / "masks" / "m1.png", np.zeros((36, 48), np.int32))  # a mask edited: the shot runs again
    assert load_jobfile(path).shots[0].key() != key


def test_bad_video_options_are_all_listed(masks):
    path = write(masks, """
[defaults]
style = "style.png"
passes = 0
[[shot]]
name = "a"
input = "clips/pan"
passes = 3
long_term = [1, 2]
[[shot]]
name = "b"
input = "clips/pan"
style_mask = "style_mask.png"
[[shot]]
name = "c"
input = "clips/pan"
content_masks = "nomasks"
style_mask = "nostyle.png"
region = "noregion.png"
flow_dir = "style.png"
[[shot]]
name = "d"
input = "clips/pan"
content_masks = "masks"
style_mask = "style_mask.png"
end = 2
photoreal = "yes"
grabcut = "1,2"
long_term = "1,x"
iteratoins = 3
[[shot]]
name = "e"
input = "clips/pan"
passes = 2
first_iterations = 5
crf = [18]
""")
    with pytest.raises(JobFileError) as info:
        load_jobfile(path)
    problems = info.value.problems
    expected = ["[defaults]: passes: 0 is not in the range 1<=x<=100",
                "shot 1 ('a'): settings: long_term works with single-pass rendering only",
                "shot 2 ('b'): style_mask needs content masks: add content_masks",
                "shot 3 ('c'): content_masks", "nomasks not found", "nostyle.png not found", "noregion.png not found",
                "shot 3 ('c'): flow_dir: Directory", "style.png' is a file",
                "shot 4 ('d'): unknown key 'iteratoins' (did you mean 'iterations'?",
                "shot 4 ('d'): photoreal must be true or false, got 'yes'",
                "shot 4 ('d'): grabcut: grabcut '1,2': give the rectangle as x,y,w,h",
                "shot 4 ('d'): long_term: expected comma-separated integers",
                "holds 3 masks for 2 frames",
                "shot 5 ('e'): first_iterations applies to single-pass rendering",
                "shot 5 ('e'): crf takes one value, not a list"]
    text = "\n".join(problems)
    for needle in expected:
        assert needle in text, needle
    assert len(problems) == 14, text


def test_batch_preview_uses_the_shot_masks_as_video_preview_does(masks, capfd):
    """`vidstyle batch --preview` of a region-only shot = `vidstyle video --preview` with --region."""
    path = write(masks, """
[defaults]
style = "style.png"
size = 48
iterations = 2
[[shot]]
name = "pan"
input = "clips/pan"
region = "region.png"
""")
    main(["batch", str(path), "--preview", "--preview-frames", "2", "--no-report"])
    main(["video", str(masks / "clips" / "pan"), str(masks / "style.png"), "-o", str(masks / "video"), "--size", "48",
          "--iterations", "2", "--region", str(masks / "region.png"), "--preview", "--preview-frames", "2"])
    capfd.readouterr()
    batch, video = (sorted((folder / "preview").glob("frame_*.png")) for folder in (masks / "renders" / "pan",
                                                                                   masks / "video"))
    assert len(batch) == 2 and [p.read_bytes() for p in batch] == [p.read_bytes() for p in video]
    inputs = sorted((masks / "video" / "preview").glob("input_*.png"))
    outside = cv2.imread(str(batch[0]))[0, 0], cv2.imread(str(inputs[0]))[0, 0]
    assert (outside[0] == outside[1]).all()  # outside the region the input is kept
