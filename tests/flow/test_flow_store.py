"""compute_flows: artistic-videos files, cache hits compute nothing, reuse, process pool."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import skimage.data

from flow.errors import FlowError
from flow.store import MANIFEST_NAME, FlowSettings, FlowStore, compute_flows
from flow.synthetic import Motion, render_clip

SETTINGS = FlowSettings.create("dis", preset="fast")


@pytest.fixture(scope="module")
def clip():
    motion = Motion(dx=1.5, dy=-1.0, occluder_dx=-2.0)
    return render_clip(skimage.data.chelsea(), (48, 40), motion, 4)


@pytest.fixture
def frames(tmp_path, clip, write_frames):
    return write_frames(clip.frames, tmp_path / "frames")


def expected_names(n_frames, offsets):
    names = {MANIFEST_NAME}
    for o in offsets:
        for i in range(1, n_frames - o + 1):
            j = i + o
            names |= {f"forward_{i}_{j}.flo", f"backward_{j}_{i}.flo"}
            names |= {f"reliable_{j}_{i}.pgm", f"reliable_{i}_{j}.pgm"}
    return names


def test_files_cache_and_reuse(tmp_path, frames, clip):
    calls = []
    store = compute_flows(
        frames,
        tmp_path / "flows",
        offsets=(1, 2),
        settings=SETTINGS,
        cache_dir=tmp_path / "cache",
        jobs=1,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert {p.name for p in (tmp_path / "flows").iterdir()} == expected_names(4, (1, 2))
    assert (store.stats.computed, store.stats.cached, store.stats.reused) == (5, 0, 0)
    assert calls == [(k, 5) for k in range(1, 6)]

    # 0-based API, 1-based files; flows and reliabilities are the right ones.
    visible = ~clip.occluded(1, 0)
    error = np.linalg.norm(store.backward(1, 0) - clip.flow(1, 0), axis=2)[visible]
    assert error.mean() < 1.0
    error = np.linalg.norm(store.forward(0, 2) - clip.flow(0, 2), axis=2)[~clip.occluded(0, 2)]
    assert error.mean() < 1.0
    c = store.reliability(1, 0)
    assert c.shape == (40, 48) and 0.3 < c.mean() <= 1.0

    # Same frames and settings, fresh flow folder: everything from the cache.
    again = compute_flows(
        frames, tmp_path / "flows2", offsets=(1, 2), settings=SETTINGS,
        cache_dir=tmp_path / "cache", jobs=1,
    )
    assert (again.stats.computed, again.stats.cached) == (0, 5)
    assert np.array_equal(again.backward(3, 2), store.backward(3, 2))

    # Same flow folder: reused in place, not even the cache is read.
    reused = compute_flows(frames, tmp_path / "flows", offsets=(1, 2), settings=SETTINGS, jobs=1)
    assert (reused.stats.computed, reused.stats.reused) == (0, 5)

    # Other settings: the manifest shows the files are stale, so they are recomputed.
    other = compute_flows(
        frames, tmp_path / "flows", settings=FlowSettings.create("farneback"), jobs=1
    )
    assert (other.stats.computed, other.stats.reused) == (3, 0)


def test_foreign_flows_are_reused(tmp_path, frames):
    made = compute_flows(frames, tmp_path / "made", settings=SETTINGS, jobs=1)
    foreign = tmp_path / "artistic-videos"
    shutil.copytree(made.flow_dir, foreign)
    (foreign / MANIFEST_NAME).unlink()  # e.g. made by makeOptFlow.sh
    store = compute_flows(frames, foreign, settings=FlowSettings.create("tvl1"), jobs=1)
    assert store.stats.reused == 3 and store.stats.computed == 0
    # A corrupt file is not reused.
    (foreign / "backward_3_2.flo").write_bytes(b"junk")
    (foreign / MANIFEST_NAME).unlink()
    store = compute_flows(frames, foreign, settings=SETTINGS, jobs=1)
    assert store.stats.computed == 1 and store.stats.reused == 2


def test_process_pool_matches_in_process(tmp_path, frames):
    single = compute_flows(frames, tmp_path / "one", settings=SETTINGS, jobs=1)
    calls = []
    pooled = compute_flows(
        frames, tmp_path / "two", settings=SETTINGS, cache_dir=tmp_path / "cache", jobs=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert pooled.stats.computed == 3 and sorted(calls) == [(1, 3), (2, 3), (3, 3)]
    for k in range(3):
        assert np.array_equal(pooled.forward(k, k + 1), single.forward(k, k + 1))
        assert np.array_equal(pooled.reliability(k + 1, k), single.reliability(k + 1, k))
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.startswith(".tmp")]


def test_settings_key():
    assert FlowSettings.create("dis", preset="fast") == FlowSettings("dis", (("preset", "fast"),))
    assert FlowSettings().key() != SETTINGS.key()
    assert FlowSettings.create("dis", preset="medium").key() == FlowSettings().key()
    with pytest.raises(FlowError, match="unknown optical flow method"):
        FlowSettings("pwc")
    with pytest.raises(FlowError, match="unknown parameter"):
        FlowSettings.create("farneback", preset="fast")


def test_bad_inputs(tmp_path, frames, clip, write_frames):
    with pytest.raises(FlowError, match="does not exist"):
        compute_flows([*frames, tmp_path / "missing.png"], tmp_path / "f", jobs=1)
    with pytest.raises(FlowError, match="positive integers"):
        compute_flows(frames, tmp_path / "f", offsets=(0,), jobs=1)
    with pytest.raises(FlowError, match="jobs"):
        compute_flows(frames, tmp_path / "f", jobs=0)
    small = write_frames([clip.frames[0][:30]], tmp_path / "small")
    with pytest.raises(FlowError, match="differ in size"):
        compute_flows([frames[0], small[0]], tmp_path / "f", jobs=1)
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(FlowError, match="cannot read frame"):
        compute_flows([frames[0], tmp_path / "junk.png"], tmp_path / "f", jobs=1)
    with pytest.raises(FlowError, match="does not exist"):
        FlowStore(tmp_path / "empty").backward(1, 0)


def test_explicit_pairs_compute_only_those(tmp_path, frames):
    store = compute_flows(frames, tmp_path / "f", pairs=[(0, 2)], jobs=1)
    names = {p.name for p in (tmp_path / "f").iterdir()}
    assert {"forward_1_3.flo", "backward_3_1.flo", "reliable_3_1.pgm", "reliable_1_3.pgm"} <= names
    assert "forward_1_2.flo" not in names and store.stats.total == 1
    with pytest.raises(FlowError, match="pairs"):
        compute_flows(frames, tmp_path / "g", pairs=[(2, 1)], jobs=1)
