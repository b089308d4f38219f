"""Compute, cache and read the flows a video job needs.

:func:`compute_flows` fills a flow folder with artistic-videos file names (see
:mod:`flow.io`) for every frame pair ``(i, j = i + offset)``: forward and backward flow
and both reliability maps. Pairs run in a process pool; each worker reads its two frame
files itself and writes its results to disk, so no more than a few flows are in memory
at once, however long the clip.

Three sources are tried per pair, cheapest first:

1. the flow folder: files already there are reused when they are valid and were made
   from the same frames and settings (a small manifest, ``flow-manifest.json``, records
   that), or when the folder holds flows made elsewhere (e.g. by artistic-videos'
   ``makeOptFlow.sh``), which have no manifest entry;
2. the cache folder: entries keyed by the SHA-256 of both frame files' contents, the
   method, its parameters and the frame size;
3. the backend (:func:`flow.backends.estimate_flow`).

Every file is written atomically, cache entries as a whole (a folder renamed into
place), so an interrupted run (Ctrl-C) never leaves a corrupt entry behind.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flow import io as flow_io
from flow.backends import check_params, estimate_flow
from flow.consistency import reliability
from flow.errors import FlowError

__all__ = ["ComputeStats", "FlowSettings", "FlowStore", "compute_flows"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "flow-manifest.json"
# Bump when the meaning of cached files changes (e.g. the consistency check).
CACHE_VERSION = 1
# Write the manifest at most this often (seconds) while pairs finish, and at the end.
MANIFEST_INTERVAL_S = 2.0
HASH_CHUNK_BYTES = 1 << 20
CACHE_FILES = ("forward.flo", "backward.flo", "reliable_forward.pgm", "reliable_backward.pgm")


@dataclass(frozen=True)
class FlowSettings:
    """Which flow to compute: a backend and its parameters.

    Attributes
    ----------
    method : str
        One of :data:`flow.backends.METHODS`.
    params : tuple of (str, value)
        Parameter overrides for the method, e.g. ``(("preset", "fast"),)``; values must
        be JSON-serializable. Stored sorted by name, so equal settings compare equal.
    """

    method: str = "dis"
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        params = dict(self.params)
        check_params(self.method, params)
        object.__setattr__(self, "params", tuple(sorted(params.items())))

    @classmethod
    def create(cls, method: str = "dis", **params: Any) -> FlowSettings:
        """``FlowSettings.create("dis", preset="fast")``."""
        return cls(method, tuple(params.items()))

    def key(self) -> str:
        """Canonical string of method and the full parameter set (defaults included)."""
        full = check_params(self.method, dict(self.params))
        return json.dumps(
            {"method": self.method, "params": full, "version": CACHE_VERSION},
            sort_keys=True,
            separators=(",", ":"),
        )


@dataclass
class ComputeStats:
    """What :func:`compute_flows` did, per frame pair (both directions count as one)."""

    computed: int = 0  # estimated by the backend
    cached: int = 0  # copied from the cache folder
    reused: int = 0  # already present in the flow folder

    @property
    def total(self) -> int:
        return self.computed + self.cached + self.reused


@dataclass
class FlowStore:
    """Lazy reader over a flow folder with artistic-videos file names.

    Indices in this API are **0-based** frame indices (``frame_paths[i]``); file names
    on disk are 1-based (``backward(j, i)`` reads ``backward_{j+1}_{i+1}.flo``). Nothing
    is kept in memory: every call reads its file.

    Attributes
    ----------
    flow_dir : Path
        The folder.
    stats : ComputeStats
        What the :func:`compute_flows` call that made this store did.
    """

    flow_dir: Path
    stats: ComputeStats = field(default_factory=ComputeStats)

    def forward(self, i: int, j: int) -> np.ndarray:
        """Flow from frame ``i`` to ``j`` (0-based), ``(H, W, 2)`` float32 on ``i``'s grid."""
        return flow_io.read_flo(self.flow_dir / flow_io.forward_name(i + 1, j + 1))

    def backward(self, j: int, i: int) -> np.ndarray:
        """Flow from frame ``j`` to ``i`` (0-based), ``(H, W, 2)`` float32 on ``j``'s grid.

        Warping frame ``i`` with it gives an approximation of frame ``j``.
        """
        return flow_io.read_flo(self.flow_dir / flow_io.backward_name(j + 1, i + 1))

    def reliability(self, a: int, b: int) -> np.ndarray:
        """Reliability ``(H, W)`` float32 in ``[0, 1]`` of the flow from ``a`` to ``b``.

        On frame ``a``'s grid (0-based indices); ``reliability(j, i)`` with ``j > i`` is
        the weight of the temporal loss of frame ``j`` toward frame ``i`` (Ruder et al.
        2016, ``c^(i,j)``), file ``reliable_{j+1}_{i+1}.pgm``.
        """
        return flow_io.read_reliability(self.flow_dir / flow_io.reliable_name(a + 1, b + 1))


@dataclass(frozen=True)
class _Pair:
    i: int  # 0-based
    j: int
    first: str
    second: str


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _read_frame(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise FlowError(f"cannot read frame {path}; check it is an image file OpenCV can decode")
    if image.ndim == 3 and image.shape[2] >= 3:  # OpenCV decodes BGR(A); flow wants RGB(A)
        code = cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
        image = cv2.cvtColor(image, code)
    return image


def _pair_names(pair: _Pair) -> dict[str, str]:
    a, b = pair.i + 1, pair.j + 1
    return {
        "forward.flo": flow_io.forward_name(a, b),
        "backward.flo": flow_io.backward_name(b, a),
        "reliable_forward.pgm": flow_io.reliable_name(a, b),
        "reliable_backward.pgm": flow_io.reliable_name(b, a),
    }


def _present_and_valid(flow_dir: Path, names: Mapping[str, str], shape: tuple[int, int]) -> bool:
    try:
        for role in ("forward.flo", "backward.flo"):
            if flow_io.read_flo(flow_dir / names[role]).shape[:2] != shape:
                return False
        for role in ("reliable_forward.pgm", "reliable_backward.pgm"):
            if flow_io.read_reliability(flow_dir / names[role]).shape != shape:
                return False
    except FlowError:
        return False
    return True


def _copy_atomic(source: Path, target: Path) -> None:
    with flow_io.atomic_path(target) as temp:
        shutil.copyfile(source, temp)


def _write_cache_entry(entry: Path, flow_dir: Path, names: Mapping[str, str]) -> None:
    """Copy a pair's four files into the cache as one atomically renamed folder."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=flow_io.TEMP_PREFIX, dir=entry.parent))
    try:
        for role, name in names.items():
            shutil.copyfile(flow_dir / name, staging / role)
        os.replace(staging, entry)
    except OSError:  # another worker or run stored the same entry first
        logger.debug("cache entry %s already present", entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _process_pair(
    pair: _Pair,
    settings: FlowSettings,
    flow_dir: str,
    cache_dir: str | None,
    manifest_key: str | None,
) -> tuple[_Pair, str, str]:
    """Worker: make one pair's four files. Returns (pair, status, pair key)."""
    flow_dir_path = Path(flow_dir)
    names = _pair_names(pair)
    first_path, second_path = Path(pair.first), Path(pair.second)
    first = _read_frame(first_path)
    second = _read_frame(second_path)
    if first.shape[:2] != second.shape[:2]:
        raise FlowError(
            f"frames {first_path.name} and {second_path.name} differ in size; "
            "resize all frames of a clip to one size"
        )
    shape = first.shape[:2]
    digest = hashlib.sha256()
    for part in (_hash_file(first_path), _hash_file(second_path), settings.key(), str(shape)):
        digest.update(part.encode() + b"\0")
    key = digest.hexdigest()

    # 1. Flow folder: same key recorded, or foreign files without a record.
    if manifest_key in (key, None) and _present_and_valid(flow_dir_path, names, shape):
        return pair, "reused", key
    # 2. Cache.
    entry = Path(cache_dir) / key[:2] / key if cache_dir is not None else None
    if entry is not None and entry.is_dir():
        try:
            for role, name in names.items():
                _copy_atomic(entry / role, flow_dir_path / name)
            if _present_and_valid(flow_dir_path, names, shape):
                return pair, "cached", key
        except OSError:
            pass
        logger.warning("cache entry %s is unreadable; computing the flow again", entry)
    # 3. Compute.
    params = dict(settings.params)
    forward = estimate_flow(first, second, method=settings.method, **params)
    backward = estimate_flow(second, first, method=settings.method, **params)
    del first, second
    flow_io.write_flo(flow_dir_path / names["forward.flo"], forward)
    flow_io.write_flo(flow_dir_path / names["backward.flo"], backward)
    flow_io.write_reliability(
        flow_dir_path / names["reliable_forward.pgm"], reliability(forward, backward)
    )
    flow_io.write_reliability(
        flow_dir_path / names["reliable_backward.pgm"], reliability(backward, forward)
    )
    if entry is not None:
        _write_cache_entry(entry, flow_dir_path, names)
    return pair, "computed", key


def _init_worker(threads: int) -> None:
    cv2.setNumThreads(threads)


def _load_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("pairs", {}) if isinstance(data, dict) else {}


def _save_manifest(path: Path, pairs: Mapping[str, str]) -> None:
    with flow_io.atomic_path(path) as temp:
        temp.write_text(json.dumps({"version": CACHE_VERSION, "pairs": dict(pairs)}, indent=0))


def compute_flows(
    frame_paths: Sequence[Path],
    flow_dir: Path,
    *,
    offsets: Sequence[int] = (1,),
    settings: FlowSettings = FlowSettings(),
    cache_dir: Path | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> FlowStore:
    """Make every flow and reliability map a video job needs.

    For every 0-based ``i`` and offset ``o`` with ``j = i + o < len(frame_paths)`` this
    writes into ``flow_dir`` (1-based names, see :mod:`flow.io`):
    ``forward_{i+1}_{j+1}.flo`` (flow ``i -> j``), ``backward_{j+1}_{i+1}.flo``
    (``j -> i``), ``reliable_{j+1}_{i+1}.pgm`` (backward checked against forward, on
    ``j``'s grid) and ``reliable_{i+1}_{j+1}.pgm`` (forward checked against backward).

    Parameters
    ----------
    frame_paths : sequence of Path
        Frame image files in clip order, all of one size.
    flow_dir : Path
        Output folder (created). Valid files already there are reused.
    offsets : sequence of int
        Frame offsets ``j - i``: ``(1,)`` for short-term, e.g. ``(1, 2, 4)`` for
        long-term consistency (Ruder et al. 2016, sec. 3.2).
    settings : FlowSettings
        Backend and parameters.
    cache_dir : Path, optional
        Cache folder shared between runs; keyed by the SHA-256 of both frame files,
        method, parameters and frame size. None: no cache.
    jobs : int, optional
        Worker processes; default ``os.cpu_count()``. 1 runs in this process.
    progress : callable, optional
        ``progress(done, total)`` in this process after each finished pair.
    pairs : sequence of (i, j), optional
        Exactly these 0-based pairs (i < j) instead of all pairs of ``offsets``, e.g.
        one chunk of a clip's pairs per task of a Dask batch.

    Returns
    -------
    FlowStore
        Reader over ``flow_dir``; ``.stats`` counts computed / cached / reused pairs.

    Raises
    ------
    FlowError
        Bad offsets or jobs, missing or unreadable frames, frames of different sizes.
    """
    paths = [Path(p) for p in frame_paths]
    if pairs is None and (not offsets or any(int(o) != o or o < 1 for o in offsets)):
        raise FlowError(f"flow offsets must be positive integers; got {list(offsets)}")
    if pairs is not None and any(not 0 <= i < j < len(paths) for i, j in pairs):
        raise FlowError(f"flow pairs must be (i, j) with 0 <= i < j < {len(paths)}; got {list(pairs)}")
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if jobs < 1:
        raise FlowError(f"jobs must be at least 1; got {jobs}")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FlowError(f"frame {missing[0]} does not exist ({len(missing)} missing frames)")
    flow_dir = Path(flow_dir)
    flow_dir.mkdir(parents=True, exist_ok=True)
    if pairs is None:
        pairs = [(i, i + o) for o in sorted({int(o) for o in offsets}) for i in range(len(paths) - o)]
    pairs = [_Pair(i, j, str(paths[i]), str(paths[j])) for i, j in pairs]
    manifest_path = flow_dir / MANIFEST_NAME
    manifest = _load_manifest(manifest_path)
    cache = str(cache_dir) if cache_dir is not None else None
    stats = ComputeStats()
    total = len(pairs)
    last_save = time.monotonic()

    def finished(pair: _Pair, status: str, key: str) -> None:
        nonlocal last_save
        setattr(stats, status, getattr(stats, status) + 1)
        manifest[_pair_names(pair)["forward.flo"]] = key
        if progress is not None:
            progress(stats.total, total)
        if time.monotonic() - last_save > MANIFEST_INTERVAL_S:
            _save_manifest(manifest_path, manifest)
            last_save = time.monotonic()

    def task_args(pair: _Pair) -> tuple[Any, ...]:
        recorded = manifest.get(_pair_names(pair)["forward.flo"])
        return (pair, settings, str(flow_dir), cache, recorded)

    try:
        if jobs == 1 or total <= 1:
            for pair in pairs:
                finished(*_process_pair(*task_args(pair)))
        else:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            # spawn: the caller may hold TensorFlow threads, which fork would copy.
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(
                max_workers=min(jobs, total),
                mp_context=context,
                initializer=_init_worker,
                initargs=(threads,),
            ) as pool:
                futures = [pool.submit(_process_pair, *task_args(pair)) for pair in pairs]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        finished(*future.result())
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        _save_manifest(manifest_path, manifest)
    logger.info(
        "flows: %d computed, %d from cache, %d reused in %s",
        stats.computed,
        stats.cached,
        stats.reused,
        flow_dir,
    )
    return FlowStore(flow_dir, stats)
