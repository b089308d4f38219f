"""Flow and reliability files: round trips, artistic-videos names, corrupt files, atomicity,
the umask, and sweeping temporary files of killed runs."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from flow import io as flow_io
from flow.errors import FlowError


def random_flow(shape=(9, 13)) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 4, (*shape, 2)).astype(np.float32)


def test_flo_round_trip(tmp_path):
    flow = random_flow()
    path = tmp_path / "forward_1_2.flo"
    flow_io.write_flo(path, flow)
    assert path.stat().st_size == 12 + 8 * flow.shape[0] * flow.shape[1]
    assert np.array_equal(flow_io.read_flo(path), flow)
    assert [p.name for p in tmp_path.iterdir()] == ["forward_1_2.flo"]  # no temp files


def test_flo_layout_is_middlebury(tmp_path):
    flow = random_flow((3, 4))
    path = tmp_path / "a.flo"
    flow_io.write_flo(path, flow)
    raw = path.read_bytes()
    assert np.frombuffer(raw[:4], "<f4")[0] == flow_io.FLO_MAGIC
    assert tuple(np.frombuffer(raw[4:12], "<i4")) == (4, 3)  # width, height
    assert np.array_equal(np.frombuffer(raw[12:], "<f4").reshape(3, 4, 2), flow)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda raw: raw[:-5],  # truncated
        lambda raw: b"XXXX" + raw[4:],  # bad magic
        lambda raw: b"",  # empty
        lambda raw: raw[:12],  # header only
    ],
    ids=["truncated", "magic", "empty", "header-only"],
)
def test_corrupt_flo(tmp_path, corrupt):
    path = tmp_path / "bad.flo"
    flow_io.write_flo(path, random_flow())
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(FlowError, match=r"not a valid \.flo file"):
        flow_io.read_flo(path)


def test_missing_files(tmp_path):
    with pytest.raises(FlowError, match="does not exist"):
        flow_io.read_flo(tmp_path / "nope.flo")
    with pytest.raises(FlowError, match="does not exist"):
        flow_io.read_reliability(tmp_path / "nope.pgm")
    (tmp_path / "bad.pgm").write_bytes(b"P5 garbage")
    with pytest.raises(FlowError, match="not a readable"):
        flow_io.read_reliability(tmp_path / "bad.pgm")


def test_bad_writes(tmp_path):
    with pytest.raises(FlowError, match=r"\.flo"):
        flow_io.write_flo(tmp_path / "x.bin", random_flow())
    with pytest.raises(FlowError, match=r"\(H, W, 2\)"):
        flow_io.write_flo(tmp_path / "x.flo", np.zeros((3, 3)))
    with pytest.raises(FlowError, match=r"\(H, W\)"):
        flow_io.write_reliability(tmp_path / "x.pgm", np.zeros((3, 3, 2)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".pgm", ".png"])
def test_reliability_round_trip(tmp_path, suffix):
    weights = np.random.default_rng(1).random((7, 11)).astype(np.float32)
    path = tmp_path / flow_io.reliable_name(2, 1, suffix)
    flow_io.write_reliability(path, weights)
    back = flow_io.read_reliability(path)
    assert back.dtype == np.float32 and back.shape == weights.shape
    assert np.abs(back - weights).max() <= 0.5 / 255 + 1e-6


def test_interrupted_write_keeps_old_file(tmp_path):
    path = tmp_path / "forward_1_2.flo"
    flow_io.write_flo(path, random_flow())
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), flow_io.atomic_path(path) as temp:
        temp.write_bytes(b"half a fl")
        raise KeyboardInterrupt
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["forward_1_2.flo"]


def test_artistic_videos_names():
    assert flow_io.forward_name(1, 2) == "forward_1_2.flo"
    assert flow_io.backward_name(5, 4) == "backward_5_4.flo"
    assert flow_io.reliable_name(5, 4) == "reliable_5_4.pgm"


@pytest.fixture
def umask():
    """``umask(mask)`` sets the process umask; restored after the test."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775)])
def test_written_files_keep_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    flow_io.write_flo(tmp_path / "forward_1_2.flo", random_flow())
    flow_io.write_reliability(tmp_path / "reliable_2_1.pgm", np.ones((9, 13)))
    with flow_io.atomic_path(tmp_path / "record.json") as temp:
        temp.write_text("{}")
    for name in ("forward_1_2.flo", "reliable_2_1.pgm", "record.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == file_mode, name
    folder = flow_io.make_temp_dir(tmp_path / "cache")
    assert stat.S_IMODE(folder.stat().st_mode) == dir_mode


KILLED_WRITER = """
import sys, time
from flow import io as flow_io
with flow_io.atomic_path(sys.argv[1]) as temp:
    temp.write_bytes(b"half a fl")
    print(temp, flush=True)
    time.sleep(600)
"""


def test_leftovers_of_killed_runs_are_swept(tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(folder / "forward_1_2.flo")],
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    leftover = Path(writer.stdout.readline().strip())
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    assert leftover.parent == folder and leftover.name.startswith(flow_io.TEMP_PREFIX)
    live = flow_io.temp_path(folder / "backward_2_1.flo")  # this process: alive, writing it now
    live.write_bytes(b"in progress")
    old_style = folder / ".tmp-forward_3_4-k2j5x_9a.flo"  # earlier versions' name, no owner
    old_style_recent = folder / ".tmp-forward_4_5-a8b7c6d5.flo"
    users = [folder / ".tmp-notes.txt", folder / ".hidden", folder / ".forward_1_2.flo.swp", folder / "notes.txt"]
    for path in [old_style, old_style_recent, *users]:
        path.write_bytes(b"x")
    an_hour, two_days = time.time() - 3600, time.time() - 2 * 86400
    for path in [live, old_style_recent, *users]:  # the leftover stays fresh: swept at once
        os.utime(path, (an_hour, an_hour))
    for path in [old_style, *users[:2]]:
        os.utime(path, (two_days, two_days))
    assert not flow_io.is_stale_temp(live) and flow_io.is_stale_temp(leftover)

    flow_io.write_flo(folder / "forward_1_2.flo", random_flow())  # the next run's first write sweeps

    names = {p.name for p in folder.iterdir()}
    assert leftover.name not in names and old_style.name not in names
    assert {live.name, old_style_recent.name, "forward_1_2.flo"} | {p.name for p in users} == names


def test_leftovers_of_other_hosts_wait_a_day(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ours = flow_io.temp_path(tmp_path / "x.flo")
    host = ours.name.split("~")[1]
    dead_here = tmp_path / ours.name.replace(f"~{os.getpid()}~", f"~{int(dead.stdout)}~")
    # Another machine (or a container sharing our host name): its process may be alive.
    elsewhere = tmp_path / ours.name.replace(f"~{host}~", "~render-node-7~")
    for path in (dead_here, elsewhere):
        path.write_bytes(b"x")
    assert flow_io.is_stale_temp(dead_here) and not flow_io.is_stale_temp(elsewhere)
    assert flow_io.sweep_temp_files(tmp_path) == [dead_here]
    past = time.time() - 1.1 * flow_io.STALE_TEMP_S
    os.utime(elsewhere, (past, past))
    assert flow_io.sweep_temp_files(tmp_path) == [elsewhere]
