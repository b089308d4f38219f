"""Flow and reliability files: round trips, artistic-videos names, corrupt files, atomicity."""

from __future__ import annotations

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
