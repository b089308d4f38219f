"""Job files of `vidstyle batch`: resolution of paths and settings, every problem listed at once."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from vidstyle.batch.jobfile import JobFileError, load_jobfile
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
                     "nostyle.png not found", "--size must be between 16", "unknown preset 'nope'",
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
