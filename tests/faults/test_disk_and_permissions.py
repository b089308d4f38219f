"""A full disk, unreadable inputs and an unwritable output folder: exit status 2 with one
``vidstyle: error:`` line (never a traceback), finished frames and the user's files intact,
and a rerun after the fix completes.

These run vidstyle in a subprocess: the file-size limit and the dropped capabilities apply
to that process only.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal

import pytest

from tests.faults.conftest import (
    assert_ok,
    assert_one_line_error,
    drop_dac_capabilities,
    frames_sha,
    leftovers,
    permissions_enforceable,
    tree_sha,
)


def _file_size_limit(limit: int):
    """preexec_fn: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored, so no core/kill)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_mid_render_then_rerun(tmp_path, media, vidstyle, reference):
    # A render interrupted after frame 2 (its folder: the reference without frames 3-4), resumed
    # while the disk takes no file as large as a frame. RLIMIT_FSIZE caps the size of every file
    # written, so the limit sits between the largest file a resume rewrites before frame 3
    # (settings.json, the flow records) and the smallest frame.
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    for name in ("frame_00003.png", "frame_00004.png"):
        (out / "frames" / name).unlink()
    finished = frames_sha(out)
    records = [p for p in (out / "flow").rglob("*") if p.is_file() and p.suffix not in (".flo", ".pgm")]
    rewritten = max(p.stat().st_size for p in [out / "settings.json", *records])
    smallest_frame = min(p.stat().st_size for p in (reference / "frames").glob("*.png"))
    if rewritten + 64 >= smallest_frame:
        pytest.skip(f"no file-size limit separates settings.json ({rewritten} B) from a frame ({smallest_frame} B)")
    user = tree_sha(media)
    args = vidstyle.video_args(media / "clip", media / "style.png", out)

    full = vidstyle.run(*args, preexec_fn=_file_size_limit(rewritten + 32))
    assert_one_line_error(full, "frame_00003")
    assert frames_sha(out) == finished  # frames 1-2 untouched, no partial frame 3
    assert leftovers(out) == []

    again = vidstyle.run(*args)
    assert_ok(again)
    assert frames_sha(out) == frames_sha(reference)
    assert tree_sha(media) == user


@pytest.fixture
def enforced(tmp_path):
    """preexec_fn under which file permissions hold for the child (also as root), or skip."""
    if not permissions_enforceable(tmp_path):
        pytest.skip("file permissions cannot be enforced here (root without a way to drop CAP_DAC_OVERRIDE)")
    return drop_dac_capabilities if os.geteuid() == 0 else None


@pytest.mark.parametrize("what", ["frame", "style"])
def test_unreadable_input(tmp_path, user_files, vidstyle, enforced, what):
    clip, style = user_files
    target = clip / "f3.png" if what == "frame" else style
    user = tree_sha(clip.parent)
    target.chmod(0)
    try:
        run = vidstyle.run(*vidstyle.video_args(clip, style, tmp_path / "out"), preexec_fn=enforced)
    finally:
        target.chmod(0o644)
    assert_one_line_error(run, target.name)
    assert tree_sha(clip.parent) == user


def test_unwritable_output_folder(tmp_path, media, vidstyle, enforced):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        run = vidstyle.run(*vidstyle.video_args(media / "clip", media / "style.png", out), preexec_fn=enforced)
    finally:
        out.chmod(0o755)
    assert_one_line_error(run, str(out.name))
    assert list(out.iterdir()) == []
