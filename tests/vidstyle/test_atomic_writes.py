"""Files vidstyle writes atomically (frames, settings, masks) keep the user's umask, and
temp files of killed runs are swept by the next write into their folder."""

from __future__ import annotations

import os
import stat
import time

import numpy as np
import pytest

from flow import io as flow_io
from segmentation import write_mask
from vidstyle.images import save_image, temp_path_for, write_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_frames_settings_and_masks_keep_the_umask(tmp_path, umask_022):
    write_atomic(tmp_path / "settings.json", b"{}")
    save_image(tmp_path / "frames" / "frame_00001.png", np.zeros((8, 8, 3)))
    (tmp_path / "labels").mkdir()
    write_mask(tmp_path / "labels" / "frame_00001.png", np.zeros((8, 8), dtype=np.int64))
    for path in (tmp_path / "settings.json", tmp_path / "frames" / "frame_00001.png",
                 tmp_path / "labels" / "frame_00001.png"):
        assert mode(path) == 0o644, path
    assert not [p for p in tmp_path.rglob(".*")]


def test_write_atomic_sweeps_leftovers_of_dead_processes(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    dead = temp_path_for(folder / "frame_00002.png")
    dead = dead.with_name(dead.name.replace(f"~{os.getpid()}~", "~999999999~"))  # no such process
    live = temp_path_for(folder / "frame_00003.png")  # this process is writing it
    mine = folder / ".frame_00002.png.backup"
    for path in (dead, live, mine):
        path.write_bytes(b"x")
        past = time.time() - 3600
        os.utime(path, (past, past))
    assert flow_io.is_stale_temp(dead) and not flow_io.is_stale_temp(live)
    write_atomic(folder / "frame_00001.png", b"png")
    assert sorted(p.name for p in folder.iterdir()) == sorted([live.name, mine.name, "frame_00001.png"])


def test_temp_names_are_recognised(tmp_path):
    name = temp_path_for(tmp_path / "clip_stylized.mp4")
    assert name.parent == tmp_path and name.suffix == ".mp4" and name.name.startswith(flow_io.TEMP_PREFIX)
