"""compute_flows: artistic-videos files, cache hits compute nothing, reuse, process pool,
foreign flow folders (checked, never written), per-pair records under concurrency."""

from __future__ import annotations

import multiprocessing
import shutil

import cv2
import numpy as np
import pytest
import skimage.data

from flow.errors import FlowError
from flow.store import RECORDS_DIR, FlowSettings, FlowStore, compute_flows, read_records
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
    names = {RECORDS_DIR}
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
    shutil.rmtree(foreign / RECORDS_DIR)  # e.g. made by makeOptFlow.sh
    store = compute_flows(frames, foreign, settings=FlowSettings.create("tvl1"), jobs=1)
    assert store.stats.reused == 3 and store.stats.computed == 0
    assert np.array_equal(store.backward(2, 1), made.backward(2, 1))
    # A corrupt file is an error, and the foreign folder is left as it is.
    (foreign / "backward_3_2.flo").write_bytes(b"junk")
    before = sorted(p.name for p in foreign.iterdir())
    with pytest.raises(FlowError, match=r"backward_3_2.flo is not a valid .flo file.*drop --flow-dir"):
        compute_flows(frames, foreign, settings=SETTINGS, jobs=1, own_dir=tmp_path / "own")
    assert sorted(p.name for p in foreign.iterdir()) == before


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


# ---- foreign flow folders (made by another tool, e.g. artistic-videos' makeOptFlow.sh) ----


def snapshot(folder):
    """Every entry of a folder with its bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture
def foreign(tmp_path, frames):
    """A folder of flows of ``frames`` without vidstyle's records (as makeOptFlow.sh leaves it)."""
    made = compute_flows(frames, tmp_path / "made", offsets=(1, 2), settings=SETTINGS, jobs=1)
    folder = tmp_path / "artistic-videos"
    shutil.copytree(made.flow_dir, folder)
    shutil.rmtree(folder / RECORDS_DIR)
    return folder


def test_foreign_flows_of_another_size_are_an_error_and_left_alone(tmp_path, clip, foreign, write_frames):
    small = write_frames([cv2.resize(f, (24, 20), interpolation=cv2.INTER_AREA) for f in clip.frames],
                         tmp_path / "small")
    before = snapshot(foreign)
    with pytest.raises(FlowError, match=r"flows there are 48x40 but frames are 24x20: make flows at the working "
                                        r"size \(--size\), or drop --flow-dir"):
        compute_flows(small, foreign, settings=SETTINGS, jobs=1, own_dir=tmp_path / "own")
    assert snapshot(foreign) == before


def test_foreign_flows_of_other_frames_are_an_error(tmp_path, foreign, write_frames):
    # Same photo, other motion: the files exist at the right size but describe other frames.
    other = render_clip(skimage.data.chelsea(), (48, 40), Motion(dx=-2.0, dy=1.5, occluder_dx=2.0), 4)
    paths = write_frames(other.frames, tmp_path / "other")
    before = snapshot(foreign)
    with pytest.raises(FlowError, match=r"do not match these frames .* or drop --flow-dir"):
        compute_flows(paths, foreign, offsets=(1, 2), settings=SETTINGS, jobs=1, own_dir=tmp_path / "own")
    assert snapshot(foreign) == before


def test_foreign_photometric_check_separates_right_and_wrong_flows(clip):
    from flow.backends import estimate_flow
    from flow.store import FOREIGN_MAX_RESIDUAL, _photometric_terms

    def ratio(frames, flow_frames):
        residual = change = 0.0
        for k in range(len(frames) - 1):
            forward = estimate_flow(flow_frames[k], flow_frames[k + 1], method="dis", preset="fast")
            backward = estimate_flow(flow_frames[k + 1], flow_frames[k], method="dis", preset="fast")
            r, c = _photometric_terms(frames[k], frames[k + 1], forward, backward)
            residual, change = residual + r, change + c
        return residual / change

    other = render_clip(skimage.data.chelsea(), (48, 40), Motion(dx=-2.0, dy=1.5, occluder_dx=2.0), 4)
    assert ratio(clip.frames, clip.frames) < 0.6 * FOREIGN_MAX_RESIDUAL  # measured 0.19
    assert ratio(clip.frames, other.frames) > 2 * FOREIGN_MAX_RESIDUAL  # measured 1.5
    still = [clip.frames[0]] * 2  # nothing changes: nothing to judge, no error
    assert _photometric_terms(*still, np.zeros((40, 48, 2)), np.zeros((40, 48, 2))) == (0.0, 0.0)


def test_foreign_missing_reliability_maps_go_to_our_folder(tmp_path, frames, foreign):
    for path in foreign.glob("reliable_*.pgm"):
        path.unlink()
    (foreign / "notes.txt").write_text("mine")
    before = snapshot(foreign)
    own = tmp_path / "out" / "flow"
    store = compute_flows(frames, foreign, offsets=(1, 2), settings=FlowSettings.create("farneback"),
                          jobs=1, own_dir=own)
    assert snapshot(foreign) == before  # not even a record or a temp file
    assert (store.stats.reused, store.stats.computed) == (5, 0)
    assert store.foreign_dir == foreign and store.flow_dir == own
    assert sorted(p.name for p in own.glob("reliable_*.pgm")) == sorted(
        n for n in expected_names(4, (1, 2)) if n.startswith("reliable_"))
    made = FlowStore(tmp_path / "made")
    assert np.array_equal(store.backward(3, 1), made.backward(3, 1))  # from the foreign folder
    assert np.array_equal(store.reliability(2, 1), made.reliability(2, 1))  # recomputed into ours
    # Without a folder of ours for them, the missing maps are an error, still nothing written.
    shutil.rmtree(own)
    with pytest.raises(FlowError, match="lacks a valid reliable_"):
        compute_flows(frames, foreign, settings=SETTINGS, jobs=1)
    assert snapshot(foreign) == before


def test_foreign_check_of_a_resumed_job_looks_at_more_pairs(tmp_path, frames, foreign, monkeypatch):
    import flow.store

    for path in foreign.glob("reliable_*.pgm"):
        path.unlink()
    checked = []
    photometric = flow.store._photometric_terms
    monkeypatch.setattr(flow.store, "_photometric_terms", lambda *a: checked.append(1) or photometric(*a))
    own = tmp_path / "own"
    store = compute_flows(frames, foreign, pairs=[(1, 2)], settings=SETTINGS, jobs=1, own_dir=own)
    assert store.stats.reused == 1 and len(checked) == 3  # pairs (1, 2), (2, 3), (3, 4) in file names
    assert sorted(p.name for p in own.glob("reliable_*")) == ["reliable_2_3.pgm", "reliable_3_2.pgm"]


def test_foreign_missing_pair_is_an_error(tmp_path, frames, foreign):
    (foreign / "forward_2_3.flo").unlink()
    before = snapshot(foreign)
    with pytest.raises(FlowError, match=r"lacks forward_2_3.flo: make flows for every frame pair"):
        compute_flows(frames, foreign, settings=SETTINGS, jobs=1, own_dir=tmp_path / "own")
    # Long-term offsets the tool did not make are missing as well.
    with pytest.raises(FlowError, match=r"lacks forward_1_4.flo and \d+ more"):
        compute_flows(frames, foreign, offsets=(3,), pairs=None, settings=SETTINGS, jobs=1, own_dir=tmp_path / "own")
    assert snapshot(foreign) == before


def test_our_folder_recomputes_files_without_a_record(tmp_path, frames, write_frames):
    # Flows of other frames in a folder of ours, one record lost (e.g. a killed run).
    other = render_clip(skimage.data.chelsea(), (48, 40), Motion(dx=-2.0, dy=1.5, occluder_dx=2.0), 4)
    folder = tmp_path / "flows"
    compute_flows(write_frames(other.frames, tmp_path / "other"), folder, settings=SETTINGS, jobs=1)
    (folder / RECORDS_DIR / "forward_1_2.json").unlink()
    store = compute_flows(frames, folder, settings=SETTINGS, jobs=1)
    assert (store.stats.computed, store.stats.reused) == (3, 0)
    fresh = compute_flows(frames, tmp_path / "fresh", settings=SETTINGS, jobs=1)
    assert np.array_equal(store.backward(1, 0), fresh.backward(1, 0))
    assert read_records(folder) == read_records(tmp_path / "fresh")


def test_legacy_manifest_marks_our_folder_but_is_not_trusted(tmp_path, frames):
    folder = tmp_path / "old"
    made = compute_flows(frames, tmp_path / "made", settings=SETTINGS, jobs=1)
    shutil.copytree(made.flow_dir, folder)
    shutil.rmtree(folder / RECORDS_DIR)
    (folder / "flow-manifest.json").write_text('{"version": 1, "pairs": {}}')
    store = compute_flows(frames, folder, settings=SETTINGS, jobs=1)
    assert store.foreign_dir is None and store.stats.computed == 3
    assert not (folder / "flow-manifest.json").exists() and len(read_records(folder)) == 3


def test_flow_command_refuses_a_foreign_output(tmp_path, frames, foreign, capfd):
    from vidstyle.cli import main

    before = snapshot(foreign)
    with pytest.raises(SystemExit) as exit_info:
        main(["flow", str(frames[0].parent), "-o", str(foreign), "--no-cache"])
    assert exit_info.value.code == 2
    assert "holds files vidstyle did not make" in capfd.readouterr().err
    assert snapshot(foreign) == before


# ---- several processes computing disjoint chunks of pairs into one folder ----


def _compute_chunk(frames, folder, chunk, barrier):
    barrier.wait()  # start together, so the records are written at the same time
    compute_flows(frames, folder, pairs=chunk, settings=SETTINGS, jobs=1)


def test_concurrent_chunks_keep_every_record(tmp_path, write_frames):
    clip = render_clip(skimage.data.chelsea(), (48, 40), Motion(dx=1.5, dy=-1.0, occluder_dx=-2.0), 7)
    frames = write_frames(clip.frames, tmp_path / "frames")
    folder = tmp_path / "flows"
    pairs = [(i, i + o) for o in (1, 2) for i in range(7 - o)]  # 11 pairs
    chunks = [pairs[k::3] for k in range(3)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(chunks))
    processes = [context.Process(target=_compute_chunk, args=(frames, folder, chunk, barrier)) for chunk in chunks]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    records = read_records(folder)
    assert sorted(records) == sorted(f"forward_{i + 1}_{j + 1}.flo" for i, j in pairs)
    again = compute_flows(frames, folder, pairs=pairs, settings=SETTINGS, jobs=1)
    assert again.stats.reused == len(pairs)
    assert not [p for p in folder.rglob(".tmp-*")]
