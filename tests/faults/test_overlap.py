"""Inputs and outputs that overlap: the user's frames, style, init, flows or masks inside the
output folder's generated folders, or the output folder inside the frame folder.

Each case is either refused (exit 2, one line, nothing touched) or works without changing
or deleting a single file the user gave. Runs go through ``vidstyle.cli.main`` in this
process (tests/faults/conftest.py, ``Vidstyle.inprocess``): nothing here needs a separate
process, and a fresh TensorFlow import per run would cost the suite several seconds each.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.faults.conftest import Run, assert_ok, assert_one_line_error, frames_sha, tree_sha


def _copy_clip(media: Path, folder: Path, pattern: str = "f{}.png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(sorted((media / "clip").glob("f*.png"))):
        shutil.copy(frame, folder / pattern.format(k + 1))
    return folder


def _kept(user: dict[Path, dict[str, str]]) -> dict[Path, dict[str, str | None]]:
    """The snapshotted user files as they are now (None: gone); files added beside them are ignored."""
    now = {path: tree_sha(path) for path in user}
    return {path: {name: now[path].get(name) for name in files} for path, files in user.items()}


def _refused_or_harmless(run: Run, user: dict[Path, dict[str, str]]) -> None:
    """Exit 2 with one line, or success; either way every user file is still there, byte-identical."""
    if run.code == 2:
        assert_one_line_error(run)
    else:
        assert_ok(run)
    assert _kept(user) == user


def _frame_files(folder: Path) -> list[str]:
    """What vidstyle reads as the frames of ``folder`` (image files, not hidden)."""
    from vidstyle.frames import IMAGE_EXTENSIONS

    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


def _snapshot(*paths: Path) -> dict[Path, dict[str, str]]:
    snap = {path: tree_sha(path) for path in paths}
    assert all(snap.values()), "nothing to protect"
    return snap


OTHER_SETTINGS = ("--iterations", "3", "--overwrite")  # a rerun that discards earlier results


def _xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=f"issue 11: {reason}")


@pytest.mark.parametrize("folder", ["input", "frames", "flow", "masks"])
def test_source_inside_a_generated_folder(tmp_path, media, vidstyle, folder):
    out = tmp_path / "out"
    clip = _copy_clip(media, out / folder)
    user = _snapshot(clip, media / "style.png")
    frames_before = _frame_files(clip)
    args = vidstyle.video_args(clip, media / "style.png", out)
    first = vidstyle.inprocess(*args)
    _refused_or_harmless(first, user)
    if first.code == 0:  # it worked: the frame folder holds the same frames, and the same command resumes
        assert _frame_files(clip) == frames_before
        again = vidstyle.inprocess(*args)
        assert_ok(again)
        assert "4 resumed" in again.out
    _refused_or_harmless(vidstyle.inprocess(*args, *OTHER_SETTINGS), user)


def test_source_named_like_the_extracted_frames_inside_out_input(tmp_path, media, vidstyle):
    # The user's frames are called frame_00001.png … (vidstyle's own pattern) and sit in OUT/input.
    out = tmp_path / "out"
    clip = _copy_clip(media, out / "input", "frame_{:05d}.png")
    user = _snapshot(clip)
    _refused_or_harmless(vidstyle.inprocess(*vidstyle.video_args(clip, media / "style.png", out)), user)


def test_output_inside_the_source_folder_resumes(tmp_path, user_files, vidstyle, reference):
    clip, style = user_files
    out = clip / "stylized"
    user = _snapshot(clip)
    args = vidstyle.video_args(clip, style, out)
    first = vidstyle.inprocess(*args)
    assert_ok(first)
    assert frames_sha(out) == frames_sha(reference)
    again = vidstyle.inprocess(*args)  # nothing changed: resumes, all frames done
    assert_ok(again)
    assert "4 resumed" in again.out
    assert _kept(user) == user


@pytest.mark.parametrize("folder", ["frames", "input", "flow"])
def test_style_inside_a_generated_folder(tmp_path, media, vidstyle, folder):
    out = tmp_path / "out"
    (out / folder).mkdir(parents=True)
    style = out / folder / "style.png"
    shutil.copy(media / "style.png", style)
    user = _snapshot(style, media / "clip")
    args = vidstyle.video_args(media / "clip", style, out)
    _refused_or_harmless(vidstyle.inprocess(*args), user)
    _refused_or_harmless(vidstyle.inprocess(*args, *OTHER_SETTINGS), user)


def _foreign_flows(folder: Path) -> Path:
    """Flows the user made elsewhere (artistic-videos names, no manifest): zero motion, reliable."""
    from flow import io as flow_io

    folder.mkdir(parents=True, exist_ok=True)
    zero, ones = np.zeros((24, 32, 2), np.float32), np.ones((24, 32), np.float32)
    for i in range(1, 4):
        flow_io.write_flo(folder / flow_io.forward_name(i, i + 1), zero)
        flow_io.write_flo(folder / flow_io.backward_name(i + 1, i), zero)
        flow_io.write_reliability(folder / flow_io.reliable_name(i, i + 1), ones)
        flow_io.write_reliability(folder / flow_io.reliable_name(i + 1, i), ones)
    return folder


def test_flow_dir_inside_out_frames(tmp_path, media, vidstyle):
    out = tmp_path / "out"
    flows = _foreign_flows(out / "frames")
    user = _snapshot(flows, media / "clip")
    args = vidstyle.video_args(media / "clip", media / "style.png", out, "--flow-dir", str(flows))
    _refused_or_harmless(vidstyle.inprocess(*args), user)
    _refused_or_harmless(vidstyle.inprocess(*args, "--overwrite"), user)


def test_flow_dir_is_the_source_folder(tmp_path, user_files, vidstyle, reference):
    # Flows kept beside the frames: the frames must stay the only images vidstyle reads there.
    clip, style = user_files
    user = _snapshot(clip)
    args = vidstyle.video_args(clip, style, tmp_path / "out", "--flow-dir", str(clip))
    run = vidstyle.inprocess(*args)
    if run.code == 2:
        assert_one_line_error(run)
    else:
        assert_ok(run)
        assert frames_sha(tmp_path / "out") == frames_sha(reference)
        again = vidstyle.inprocess(*args)
        assert_ok(again)
        assert "4 resumed" in again.out
    assert _kept(user) == user


def test_init_file_inside_out_frames(tmp_path, media, vidstyle, reference):
    # Restart a render from one of its own results: --init OUT/frames/frame_00001.png, --overwrite.
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    init = out / "frames" / "frame_00001.png"
    user = _snapshot(init, media / "clip")
    args = vidstyle.video_args(media / "clip", media / "style.png", out, "--init", str(init), "--overwrite")
    run = vidstyle.inprocess(*args)
    if run.code == 2:
        assert_one_line_error(run)
        assert _kept(user) == user
    else:  # it may only have replaced the init by the new result after reading it
        assert_ok(run)
        assert len(frames_sha(out)) == 4


def test_content_masks_made_by_vidstyle_masks_inside_out(tmp_path, media, vidstyle):
    out = tmp_path / "out"
    masks = out / "masks"
    made = vidstyle.inprocess("masks", str(media / "clip"), "-o", str(masks), "--auto", "2",
                              "--style", str(media / "style.png"), "--size", "32")
    assert_ok(made)
    assert (masks / "style.png").is_file() and len(list(masks.glob("frame_*.png"))) == 4
    user = _snapshot(masks, media / "clip")
    args = vidstyle.video_args(media / "clip", media / "style.png", out, "--content-masks", str(masks),
                               "--style-mask", str(masks / "style.png"))
    _refused_or_harmless(vidstyle.inprocess(*args), user)
