"""A video job never touches the user's files, refuses options it would ignore, and resumes
in time proportional to the frames left."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from vidstyle.config import Config, OptimizerSettings, VideoSettings
from vidstyle.errors import OptionError, OutputError
from vidstyle.regions import MaskOptions
from vidstyle.video import VideoJob, render_video
from vidstyle.workspace import Workspace, check_overlaps

SIZE = (48, 36)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    clip = render_clip(skimage.data.astronaut(), SIZE, Motion(dx=2.0, dy=1.0), n_frames=4)
    folder = tmp_path_factory.mktemp("clip")
    for k, frame in enumerate(clip.frames):
        cv2.imwrite(str(folder / f"f{k + 1}.png"), (np.asarray(frame)[..., ::-1] * 255 + 0.5).astype(np.uint8))
    return folder


@pytest.fixture(scope="module")
def style_file(tmp_path_factory, style64):
    path = tmp_path_factory.mktemp("style") / "style.png"
    cv2.imwrite(str(path), (style64[..., ::-1] * 255).astype(np.uint8))
    return path


def _config() -> Config:
    return Config(size=48, optimizer=OptimizerSettings(iterations=3, first_iterations=3, pyramid=1))


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- inputs inside what vidstyle writes ---------------------------------------------------
@pytest.mark.parametrize("inside", ["input", "frames", "flow", "labels", "pass01"])
def test_source_inside_a_generated_folder_is_refused_and_untouched(tmp_path, clip_dir, style_file, inside):
    out = tmp_path / "out"
    source = out / inside
    source.mkdir(parents=True)
    for path in clip_dir.iterdir():  # the user's frames, named like vidstyle's own
        (source / f"frame_{path.stem[1:].zfill(5)}.png").write_bytes(path.read_bytes())
    before = _digests(out)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="move it out"):
            render_video(VideoJob(source, (style_file,), out, encode=False), _config(), overwrite=overwrite)
    assert _digests(out) == before


def test_every_user_input_is_checked(tmp_path):
    out = tmp_path / "out"
    for option in ("STYLE", "--init", "--flow-dir", "--content-masks", "--style-mask", "--region", "--weights"):
        with pytest.raises(OutputError, match=option):
            check_overlaps(out, {option: out / "frames" / "x.png"})
    with pytest.raises(OutputError, match="input folder given as SOURCE"):
        check_overlaps(out, {"SOURCE": out})
    with pytest.raises(OutputError, match=r"clip_stylized\.mp4"):
        check_overlaps(out, {"STYLE": out / "clip_stylized.mp4"}, video_name="clip_stylized.mp4")
    # Allowed: the job's own flow folder named explicitly, inputs beside generated folders, output in the source.
    check_overlaps(out, {"--flow-dir": out / "flow", "--content-masks": out / "masks", "SOURCE": tmp_path})


def test_user_masks_in_the_output_folder_survive_a_photoreal_run(tmp_path, clip_dir, style_file):
    # vidstyle masks clip -o OUT/masks, then vidstyle video … -o OUT --content-masks OUT/masks:
    # the job keeps its own labels in OUT/labels and never deletes OUT/masks.
    out, masks = tmp_path / "out", tmp_path / "out" / "masks"
    masks.mkdir(parents=True)
    blue, green = (255, 0, 0), (0, 255, 0)  # BGR of the DPST palette's blue and green
    for k in range(4):
        mask = np.zeros((*SIZE[::-1], 3), np.uint8)
        mask[:, : SIZE[0] // 2] = blue
        mask[:, SIZE[0] // 2:] = green
        cv2.imwrite(str(masks / f"frame_{k + 1:05d}.png"), mask)
    style_mask = tmp_path / "style_mask.png"
    cv2.imwrite(str(style_mask), np.tile(np.array(blue, np.uint8), (64, 64, 1)))
    before = _digests(masks)
    options = MaskOptions(content_masks=str(masks), style_mask=str(style_mask))
    job = VideoJob(clip_dir, (style_file,), out, encode=False, masks=options)
    render_video(job, _config())
    assert _digests(masks) == before
    changed = dataclasses.replace(_config(), optimizer=OptimizerSettings(iterations=2, first_iterations=2, pyramid=1))
    render_video(job, changed, overwrite=True)  # new settings clear vidstyle's results only
    assert _digests(masks) == before and len(list((out / "frames").glob("*.png"))) == 4


def test_generated_folders_without_settings_are_not_taken_over(tmp_path, clip_dir, style_file):
    out = tmp_path / "out"
    (out / "labels").mkdir(parents=True)
    (out / "labels" / "mine.png").write_bytes(b"the user's")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="did not make"):
            render_video(VideoJob(clip_dir, (style_file,), out, encode=False), _config(), overwrite=overwrite)
    assert (out / "labels" / "mine.png").read_bytes() == b"the user's"


# ---- resume costs O(frames left) --------------------------------------------------------------
def test_resume_reads_only_the_flows_of_the_frames_left(tmp_path, clip_dir, style_file):
    job = VideoJob(clip_dir, (style_file,), tmp_path / "out", encode=False, jobs=1, cache_dir=tmp_path / "cache")
    full = render_video(job, _config())
    last = full.frames[-1].read_bytes()
    full.frames[-1].unlink()  # as if killed during the last frame
    # Pairs of finished frames are never read again: corrupting one must not matter.
    ws = Workspace(tmp_path / "out")
    early = ws.flow_dir / "backward_2_1.flo"
    early.write_bytes(b"corrupt")
    resumed = render_video(job, _config())
    assert resumed.resumed_frames == 3 and resumed.frames[-1].read_bytes() == last
    assert early.read_bytes() == b"corrupt"


# ---- options that would be ignored are refused ------------------------------------------------
def test_long_term_with_multipass_is_refused():
    with pytest.raises(OptionError, match="--long-term"):
        VideoSettings(passes=3, long_term=(1, 2))


@pytest.mark.parametrize("flag", [["--first-iterations", "5"], ["--frame-pyramid", "2"],
                                  ["--frame-stop-tolerance", "0.1"]])
def test_single_pass_flags_with_multipass_are_refused(cli_fails, clip_dir, style_file, tmp_path, flag):
    code, _, err = cli_fails("video", str(clip_dir), str(style_file), "-o", str(tmp_path / "o"),
                             "--passes", "2", *flag)
    assert code == 2 and flag[0] in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_image_refuses_temporal_weight_and_output_over_input(cli_fails, files, tmp_path):
    content, style = files
    code, _, err = cli_fails("image", str(content), str(style), "-o", str(tmp_path / "o.png"),
                             "--temporal-weight", "1")
    assert code == 2 and "--temporal-weight" in err
    before = content.read_bytes()
    code, _, err = cli_fails("image", str(content), str(style), "-o", str(content), "--iterations", "1")
    assert code == 2 and "CONTENT" in err and content.read_bytes() == before


def test_internal_errors_end_in_one_line_naming_a_log(cli_fails, files, tmp_path, monkeypatch):
    import vidstyle.cli.image as image_cli

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure inside a library")

    monkeypatch.setattr(image_cli, "load_image", broken)
    monkeypatch.setenv("VIDSTYLE_LOG_DIR", str(tmp_path / "logs"))
    content, style = files
    code, _, err = cli_fails("image", str(content), str(style), "-o", str(tmp_path / "o.png"))
    logs = list((tmp_path / "logs").glob("vidstyle-crash-*.log"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert len(logs) == 1 and str(logs[0]) in err and "simulated failure" in logs[0].read_text()
    assert "Traceback" in logs[0].read_text()
