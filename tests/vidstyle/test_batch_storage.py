"""Shared storage of a batch on several machines: two processes filling the same flow cache
with the same pairs at the same moment (two render nodes starting the same shot, or two
shots of one clip) both succeed, leave only whole, valid entries and no temp files, and
keep a group-shared umask."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from flow.cache import CACHE_FILES, FlowCache
from flow.io import read_flo, read_reliability
from flow.store import FlowSettings, compute_flows
from flow.synthetic import Motion, render_clip

FRAMES = 9
OFFSETS = (1, 2)
PAIRS = [(i, i + o) for o in OFFSETS for i in range(FRAMES - o)]  # 15 pairs
SHARED_UMASK = 0o002  # group members may write, as on a shared render volume


def _render_node(frames, out, cache, barrier, stats):
    """One node: its own flow folder, the shared cache; starts when the other one does."""
    os.umask(SHARED_UMASK)
    barrier.wait()
    store = compute_flows(frames, out, pairs=PAIRS, settings=FlowSettings.create("dis"), cache_dir=cache, jobs=1)
    stats.put((store.stats.computed, store.stats.cached))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_processes_fill_one_flow_cache_at_once(tmp_path):
    frames = []
    (tmp_path / "clip").mkdir()
    for k, frame in enumerate(render_clip(skimage.data.chelsea(), (64, 48), Motion(dx=1.5, dy=-1.0), FRAMES).frames):
        frames.append(tmp_path / "clip" / f"frame_{k + 1:03d}.png")
        cv2.imwrite(str(frames[-1]), np.ascontiguousarray(frame[..., ::-1]))
    cache = tmp_path / "cache"
    context = multiprocessing.get_context("spawn")
    barrier, stats = context.Barrier(2), context.Queue()
    nodes = [context.Process(target=_render_node, args=(frames, tmp_path / f"node{n}", cache, barrier, stats))
             for n in (1, 2)]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(timeout=120)
    assert [node.exitcode for node in nodes] == [0, 0]
    counts = [stats.get(timeout=5) for _ in nodes]
    assert all(computed + cached == len(PAIRS) for computed, cached in counts)
    assert sum(computed for computed, _ in counts) > len(PAIRS)  # both computed and stored some same pairs

    # One whole entry per pair; every file readable, equal to what both nodes wrote.
    info = FlowCache(cache).info()
    assert info.entries == len(PAIRS)
    entries = [p for p in cache.glob("??/*") if p.is_dir()]
    assert len(entries) == len(PAIRS) and all(sorted(p.name for p in e.iterdir()) == sorted(CACHE_FILES)
                                             for e in entries)
    for entry in entries:
        assert read_flo(entry / "forward.flo").shape == (48, 64, 2)
        assert read_reliability(entry / "reliable_backward.pgm").shape == (48, 64)
    cached = {_sha(e / "forward.flo") for e in entries}
    for node in ("node1", "node2"):
        assert {_sha(p) for p in (tmp_path / node).glob("forward_*.flo")} == cached

    # No temp files anywhere; files and folders with the shared umask.
    for root in (cache, tmp_path / "node1", tmp_path / "node2"):
        assert not [p for p in root.rglob(".tmp-*")], root
    modes = {stat.S_IMODE(p.stat().st_mode) for p in cache.rglob("*")}
    assert modes == {0o666 & ~SHARED_UMASK, 0o777 & ~SHARED_UMASK}

    # A third node finds every pair in the cache.
    again = compute_flows(frames, tmp_path / "node3", pairs=PAIRS, settings=FlowSettings.create("dis"),
                          cache_dir=cache, jobs=1)
    assert (again.stats.cached, again.stats.computed) == (len(PAIRS), 0)
