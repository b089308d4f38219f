"""Compute, cache and read the flows a video job needs.

:func:`compute_flows` fills a flow folder with artistic-videos file names (see
:mod:`flow.io`) for every frame pair ``(i, j = i + offset)``: forward and backward flow
and both reliability maps. Pairs run in a process pool; each worker reads its two frame
files itself and writes its results to disk, so no more than a few flows are in memory
at once, however long the clip.

A flow folder is either **ours** or **foreign**:

* ours: new, empty, or holding the record folder ``flow-manifest/`` (or the single
  ``flow-manifest.json`` of earlier versions). Per pair, a small record file
  ``flow-manifest/forward_{i}_{j}.json`` holds the key of the frames and settings its
  files were made from; files without a matching record are made again, never trusted.
  Each pair's record is written by whoever made that pair, after its files, so
  processes computing disjoint chunks of pairs into one folder (``pairs=``) never
  rewrite each other's records.
* foreign: anything else, e.g. DeepFlow flows made by artistic-videos'
  ``makeOptFlow.sh``. Nothing there is ever written, renamed or deleted. Its flows are
  checked before use (every pair present, the frames' size, and that they explain the
  motion between these frames, see :data:`FOREIGN_MAX_RESIDUAL`); a failed check raises
  :class:`FlowError`. Reliability maps it lacks are computed from its flows into
  ``own_dir``, a folder of ours; :class:`FlowStore` reads each file from the foreign
  folder when valid there, else from ``own_dir``.

In a folder of ours, three sources are tried per pair, cheapest first:

1. the folder itself: files whose record matches the frames and settings;
2. the cache (:class:`flow.cache.FlowCache`): entries keyed by the SHA-256 of both frame
   files' contents, the method, its parameters and the frame size, capped in size with
   least recently used entries evicted;
3. the backend (:func:`flow.backends.estimate_flow`).

Every file is written atomically with the user's umask, cache entries as a whole (a
folder renamed into place), so an interrupted run (Ctrl-C) never leaves a corrupt entry
behind.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flow import io as flow_io
from flow.backends import check_params, estimate_flow
from flow.cache import FlowCache
from flow.consistency import reliability
from flow.errors import FlowError
from flow.warp import warp

__all__ = ["ComputeStats", "FlowSettings", "FlowStore", "claim_flow_dir", "compute_flows", "read_records"]

logger = logging.getLogger(__name__)

# Per-pair records of a folder of ours; its presence marks the folder as ours.
RECORDS_DIR = "flow-manifest"
# The single manifest of earlier versions (rewritten whole by each process, so entries
# got lost): it still marks a folder as ours, but its entries are not trusted.
LEGACY_MANIFEST_NAME = "flow-manifest.json"
# Bump when the meaning of cached files changes (e.g. the consistency check).
CACHE_VERSION = 1
HASH_CHUNK_BYTES = 1 << 20
# During a run, evict from the cache whenever this fraction of its cap was added.
EVICT_FRACTION = 0.05

# Check of foreign flows (DeepFlow files of another tool carry no record of their
# frames). Frames are compared in gray, blurred with sigma CHECK_BLUR_SIGMA pixels (so
# that interpolation and noise do not count), over the pixels whose value changes by
# more than CHECK_CHANGE (in [0, 1]) between the two frames. Over all pairs and both
# directions, warping with the flows must leave at most FOREIGN_MAX_RESIDUAL of that
# change: sum |warp(I_i, w_{j->i}) - I_j| / sum |I_i - I_j|. Measured on Big Buck Bunny
# (132 frames, 23 pairs, 256 and 512 px, DIS and DeepFlow): the frames' own flows leave
# 0.21-0.30 (offset 1) and 0.24-0.40 (offset 2); flows of frames 3 to 30 apart
# 0.62-0.95, of a clip read with --every 2 used for --every 1 0.76-0.81 (0.64-0.70 the
# other way round), of another shot 1.03-1.04. Flows of the neighbouring pair (0.37-0.41)
# pass: the motion one frame later is nearly the same. Single pairs vary too much
# (right flows reach 0.99 at a cut or fade), so only the sum over all pairs is judged.
CHECK_BLUR_SIGMA = 1.0
CHECK_CHANGE = 0.02
FOREIGN_MAX_RESIDUAL = 0.5
# A call for fewer pairs (a resumed job) also checks other pairs of the folder, evenly
# spread over the clip, up to this many in all: a handful of hard pairs (a cut, a fade)
# must not decide alone.
MIN_CHECK_PAIRS = 8
# Middlebury marks unknown flow with values above 1e9; such flows cannot be used.
UNKNOWN_FLOW = 1e9
DROP_FLOW_DIR = "drop --flow-dir to let vidstyle compute its own flows"


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
    reused: int = 0  # already present in the flow folder (or checked in a foreign one)

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
        The folder (of ours, when ``foreign_dir`` is set).
    stats : ComputeStats
        What the :func:`compute_flows` call that made this store did.
    foreign_dir : Path, optional
        A folder of flows vidstyle did not make; each file is read from there when it
        is valid (readable and of size ``shape``), else from ``flow_dir``.
    shape : (int, int), optional
        ``(H, W)`` of the frames, for that check.
    """

    flow_dir: Path
    stats: ComputeStats = field(default_factory=ComputeStats)
    foreign_dir: Path | None = None
    shape: tuple[int, int] | None = None

    def _read(self, name: str, reader: Callable[[Path], np.ndarray]) -> np.ndarray:
        if self.foreign_dir is not None and (self.foreign_dir / name).is_file():
            try:
                data = reader(self.foreign_dir / name)
            except FlowError:
                pass
            else:
                if self.shape is None or data.shape[:2] == tuple(self.shape):
                    return data
        return reader(self.flow_dir / name)

    def forward(self, i: int, j: int) -> np.ndarray:
        """Flow from frame ``i`` to ``j`` (0-based), ``(H, W, 2)`` float32 on ``i``'s grid."""
        return self._read(flow_io.forward_name(i + 1, j + 1), flow_io.read_flo)

    def backward(self, j: int, i: int) -> np.ndarray:
        """Flow from frame ``j`` to ``i`` (0-based), ``(H, W, 2)`` float32 on ``j``'s grid.

        Warping frame ``i`` with it gives an approximation of frame ``j``.
        """
        return self._read(flow_io.backward_name(j + 1, i + 1), flow_io.read_flo)

    def reliability(self, a: int, b: int) -> np.ndarray:
        """Reliability ``(H, W)`` float32 in ``[0, 1]`` of the flow from ``a`` to ``b``.

        On frame ``a``'s grid (0-based indices); ``reliability(j, i)`` with ``j > i`` is
        the weight of the temporal loss of frame ``j`` toward frame ``i`` (Ruder et al.
        2016, ``c^(i,j)``), file ``reliable_{j+1}_{i+1}.pgm``.
        """
        return self._read(flow_io.reliable_name(a + 1, b + 1), flow_io.read_reliability)


@dataclass(frozen=True)
class _Pair:
    i: int  # 0-based
    j: int
    first: str
    second: str


@dataclass(frozen=True)
class _Done:
    """What a worker did for one pair."""

    pair: _Pair
    status: str  # a ComputeStats field (computed, cached, reused), or "checked" (not counted)
    residual: float = 0.0  # foreign pairs: photometric check terms (_photometric_terms)
    change: float = 0.0
    cache_bytes: int = 0  # bytes added to the cache


def claim_flow_dir(folder: str | os.PathLike[str]) -> bool:
    """Make ``folder`` a flow folder of ours, unless it is foreign; True when it is ours.

    New or empty folders become ours (the record folder ``flow-manifest/`` is created);
    folders holding it (or the ``flow-manifest.json`` of earlier versions) are ours
    already. Anything else is foreign and left exactly as it is.

    Raises
    ------
    FlowError
        ``folder`` is a file, or cannot be created or read.
    """
    folder = Path(folder)
    records = folder / RECORDS_DIR
    try:
        if records.is_dir():
            return True
        if (folder / LEGACY_MANIFEST_NAME).is_file():
            records.mkdir(exist_ok=True)
            (folder / LEGACY_MANIFEST_NAME).unlink(missing_ok=True)  # its entries are not trusted
            return True
        if folder.exists():
            if not folder.is_dir():
                raise FlowError(f"{folder} is a file; flows are written into a folder, choose another path")
            if any(folder.iterdir()):
                return False
        folder.mkdir(parents=True, exist_ok=True)
        records.mkdir(exist_ok=True)
    except OSError as exc:
        raise FlowError(
            f"cannot use flow folder {folder}: {exc.strerror or exc}; check permissions or choose another folder"
        ) from None
    return True


def read_records(folder: str | os.PathLike[str]) -> dict[str, str]:
    """The per-pair records of a flow folder of ours: forward file name -> key."""
    records = {}
    for path in sorted(Path(folder, RECORDS_DIR).glob("forward_*.json")):
        key = _read_record(path)
        if key is not None:
            records[path.with_suffix(".flo").name] = key
    return records


def _record_path(folder: Path, pair: _Pair) -> Path:
    return folder / RECORDS_DIR / Path(flow_io.forward_name(pair.i + 1, pair.j + 1)).with_suffix(".json").name


def _read_record(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return None
    key = data.get("key")
    return key if isinstance(key, str) else None


def _write_record(path: Path, key: str) -> None:
    with flow_io.atomic_path(path) as temp:
        temp.write_text(json.dumps({"version": CACHE_VERSION, "key": key}) + "\n")


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


def _read_pair(pair: _Pair) -> tuple[np.ndarray, np.ndarray]:
    first, second = _read_frame(Path(pair.first)), _read_frame(Path(pair.second))
    if first.shape[:2] != second.shape[:2]:
        raise FlowError(
            f"frames {Path(pair.first).name} and {Path(pair.second).name} differ in size; "
            "resize all frames of a clip to one size"
        )
    return first, second


def _pair_names(pair: _Pair) -> dict[str, str]:
    a, b = pair.i + 1, pair.j + 1
    return {
        "forward.flo": flow_io.forward_name(a, b),
        "backward.flo": flow_io.backward_name(b, a),
        "reliable_forward.pgm": flow_io.reliable_name(a, b),
        "reliable_backward.pgm": flow_io.reliable_name(b, a),
    }


def _valid_reliability(path: Path, shape: tuple[int, int]) -> bool:
    try:
        return flow_io.read_reliability(path).shape == shape
    except FlowError:
        return False


def _present_and_valid(flow_dir: Path, names: Mapping[str, str], shape: tuple[int, int]) -> bool:
    try:
        for role in ("forward.flo", "backward.flo"):
            if flow_io.read_flo(flow_dir / names[role]).shape[:2] != shape:
                return False
    except FlowError:
        return False
    return all(_valid_reliability(flow_dir / names[role], shape)
               for role in ("reliable_forward.pgm", "reliable_backward.pgm"))


def _copy_atomic(source: Path, target: Path) -> None:
    with flow_io.atomic_path(target) as temp:
        shutil.copyfile(source, temp)


def _gray(image: np.ndarray) -> np.ndarray:
    """Frame -> blurred gray float32 in [0, 1] for the photometric check."""
    scale = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype, np.integer) else 1.0
    gray = image.astype(np.float32) / np.float32(scale)
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray[:, :, :3], cv2.COLOR_RGB2GRAY) if gray.shape[2] >= 3 else gray[:, :, 0]
    return cv2.GaussianBlur(gray, (0, 0), CHECK_BLUR_SIGMA)


def _photometric_terms(first: np.ndarray, second: np.ndarray, forward: np.ndarray,
                       backward: np.ndarray) -> tuple[float, float]:
    """How much of the change between two frames their flows explain.

    Parameters
    ----------
    first, second : np.ndarray
        Frames ``i`` and ``j`` (RGB(A) or gray, any integer or float dtype).
    forward, backward : np.ndarray
        ``(H, W, 2)`` flows ``i -> j`` (on ``i``'s grid) and ``j -> i`` (on ``j``'s grid).

    Returns
    -------
    residual, change : float
        Over the pixels that change by more than :data:`CHECK_CHANGE` and whose warped
        source lies inside the frame, summed over both directions:
        ``sum |warp(I_i, backward) - I_j|`` (+ the same for ``forward``) and
        ``sum |I_i - I_j|``. ``residual / change`` is near 0 for good flows of these
        frames and near 1 for flows that do not describe their motion.
    """
    a, b = _gray(first), _gray(second)
    residual = change = 0.0
    for source, target, flow in ((a, b, backward), (b, a, forward)):
        warped, valid = warp(source, flow)
        difference = np.abs(source - target)
        changed = valid & (difference > CHECK_CHANGE)
        residual += float(np.abs(warped - target)[changed].sum())
        change += float(difference[changed].sum())
    return residual, change


def _pair_key(pair: _Pair, settings: FlowSettings, shape: tuple[int, ...]) -> str:
    digest = hashlib.sha256()
    for part in (_hash_file(Path(pair.first)), _hash_file(Path(pair.second)), settings.key(), str(shape)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _own_pair(pair: _Pair, settings: FlowSettings, flow_dir: str, cache: FlowCache | None) -> _Done:
    """Worker: make one pair's four files and its record in a folder of ours."""
    folder = Path(flow_dir)
    names = _pair_names(pair)
    first, second = _read_pair(pair)
    shape = first.shape[:2]
    key = _pair_key(pair, settings, shape)
    record = _record_path(folder, pair)

    # 1. Flow folder: only files recorded as made from these frames and settings.
    if _read_record(record) == key and _present_and_valid(folder, names, shape):
        return _Done(pair, "reused")
    record.unlink(missing_ok=True)  # the files are about to change
    # 2. Cache.
    entry = cache.lookup(key) if cache is not None else None
    if entry is not None:
        try:
            for role, name in names.items():
                _copy_atomic(entry / role, folder / name)
            if _present_and_valid(folder, names, shape):
                _write_record(record, key)
                return _Done(pair, "cached")
            logger.warning("flow cache entry %s is damaged; computing the flow again", entry)
        except OSError as exc:  # e.g. evicted by another process while we copied it
            logger.debug("flow cache entry %s lost (%s); computing the flow again", entry.name, exc)
    # 3. Compute.
    params = dict(settings.params)
    forward = estimate_flow(first, second, method=settings.method, **params)
    backward = estimate_flow(second, first, method=settings.method, **params)
    del first, second
    flow_io.write_flo(folder / names["forward.flo"], forward)
    flow_io.write_flo(folder / names["backward.flo"], backward)
    flow_io.write_reliability(folder / names["reliable_forward.pgm"], reliability(forward, backward))
    flow_io.write_reliability(folder / names["reliable_backward.pgm"], reliability(backward, forward))
    _write_record(record, key)
    added = cache.store(key, {role: folder / name for role, name in names.items()}) if cache is not None else 0
    return _Done(pair, "computed", cache_bytes=added)


def _read_foreign_flow(path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        flow = flow_io.read_flo(path)
    except FlowError:
        raise FlowError(f"{path} is not a valid .flo file (bad header or truncated): make it again, "
                        f"or {DROP_FLOW_DIR}") from None
    if flow.shape[:2] != shape:
        raise _size_error(path.parent, flow.shape[:2], shape)
    if not np.isfinite(flow).all() or np.abs(flow).max() >= UNKNOWN_FLOW:
        raise FlowError(f"{path} holds unknown (NaN, infinite or > 1e9) flow values: make it again, "
                        f"or {DROP_FLOW_DIR}")
    return flow


def _size_error(folder: Path, flow_shape: tuple[int, ...], shape: tuple[int, ...]) -> FlowError:
    return FlowError(f"{folder}: flows there are {flow_shape[1]}x{flow_shape[0]} but frames are "
                     f"{shape[1]}x{shape[0]}: make flows at the working size (--size), or {DROP_FLOW_DIR}")


def _foreign_pair(pair: _Pair, foreign_dir: str, own_dir: str | None, check_only: bool = False) -> _Done:
    """Worker: check one pair of a foreign folder; make reliability maps it lacks in ``own_dir``."""
    folder = Path(foreign_dir)
    names = _pair_names(pair)
    first, second = _read_pair(pair)
    shape = first.shape[:2]
    forward = _read_foreign_flow(folder / names["forward.flo"], shape)
    backward = _read_foreign_flow(folder / names["backward.flo"], shape)
    residual, change = _photometric_terms(first, second, forward, backward)
    del first, second
    if check_only:
        return _Done(pair, "checked", residual=residual, change=change)
    for role, flows in (("reliable_forward.pgm", (forward, backward)), ("reliable_backward.pgm", (backward, forward))):
        if _valid_reliability(folder / names[role], shape):
            continue
        if own_dir is None:
            raise FlowError(f"{folder} lacks a valid {names[role]} and vidstyle never writes into a folder of "
                            "flows it did not make: give compute_flows an own_dir for it")
        flow_io.write_reliability(Path(own_dir) / names[role], reliability(*flows))
    return _Done(pair, "reused", residual=residual, change=change)


def _check_foreign_files(folder: Path, pairs: Sequence[_Pair], shape: tuple[int, int]) -> None:
    """Every flow file a foreign folder must hold is there, at the frames' size (headers only)."""
    needed = [folder / _pair_names(p)[role] for p in pairs for role in ("forward.flo", "backward.flo")]
    missing = [path.name for path in needed if not path.is_file()]
    if missing:
        more = f" and {len(missing) - 1} more flow files" if len(missing) > 1 else ""
        raise FlowError(f"{folder} holds flows vidstyle did not make but lacks {missing[0]}{more}: make flows "
                        f"for every frame pair of these frames and offsets, or {DROP_FLOW_DIR}")
    for path in needed:
        try:
            width, height = flow_io.read_flo_size(path)
        except FlowError:
            raise FlowError(f"{path} is not a valid .flo file (bad header or truncated): make it again, "
                            f"or {DROP_FLOW_DIR}") from None
        if (height, width) != shape:
            raise _size_error(folder, (height, width), shape)


def _extra_check_pairs(folder: Path, paths: Sequence[Path], pairs: Sequence[_Pair],
                       shape: tuple[int, int]) -> list[_Pair]:
    """Pairs ``(i, i + 1)`` of a foreign folder beyond ``pairs``, spread over the clip, so
    that at least MIN_CHECK_PAIRS pairs are checked (those it holds at the right size)."""
    wanted = MIN_CHECK_PAIRS - len(pairs)
    taken = {(p.i, p.j) for p in pairs}
    candidates = [i for i in range(len(paths) - 1) if (i, i + 1) not in taken]
    if wanted <= 0 or not candidates:
        return []
    step = max(1, len(candidates) // wanted)
    extra = []
    for i in candidates[::step]:
        pair = _Pair(i, i + 1, str(paths[i]), str(paths[i + 1]))
        names = _pair_names(pair)
        try:
            sizes = {flow_io.read_flo_size(folder / names[role]) for role in ("forward.flo", "backward.flo")}
        except FlowError:
            continue
        if sizes == {(shape[1], shape[0])}:
            extra.append(pair)
        if len(extra) == wanted:
            break
    return extra


def _init_worker(threads: int) -> None:
    cv2.setNumThreads(threads)


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
    own_dir: Path | None = None,
    cache_max_gb: float | None = None,
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
        Output folder (created). If it is foreign (neither new, empty nor made by
        vidstyle; see the module docs), nothing is written there: its flows are checked
        and used as they are.
    offsets : sequence of int
        Frame offsets ``j - i``: ``(1,)`` for short-term, e.g. ``(1, 2, 4)`` for
        long-term consistency (Ruder et al. 2016, sec. 3.2).
    settings : FlowSettings
        Backend and parameters (ignored for the flows of a foreign folder).
    cache_dir : Path, optional
        Cache folder shared between runs (:class:`flow.cache.FlowCache`); keyed by the
        SHA-256 of both frame files, method, parameters and frame size. None: no cache.
    jobs : int, optional
        Worker processes; default ``os.cpu_count()``. 1 runs in this process.
    progress : callable, optional
        ``progress(done, total)`` in this process after each finished pair.
    pairs : sequence of (i, j), optional
        Exactly these 0-based pairs (i < j) instead of all pairs of ``offsets``, e.g.
        one chunk of a clip's pairs per task of a Dask batch. Processes computing
        disjoint chunks into one folder at once are safe.
    own_dir : Path, optional
        A folder of ours (e.g. the job's ``OUT/flow``) for the reliability maps a
        foreign ``flow_dir`` lacks. Unused when ``flow_dir`` is ours.
    cache_max_gb : float, optional
        Cache cap in GB; None: ``$VIDSTYLE_CACHE_MAX_GB`` or 10.

    Returns
    -------
    FlowStore
        Reader over the flows; ``.stats`` counts computed / cached / reused pairs
        (foreign pairs count as reused).

    Raises
    ------
    FlowError
        Bad offsets or jobs, missing or unreadable frames, frames of different sizes; a
        foreign folder whose flows are missing, of another size, or not of these frames.
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
    cache = FlowCache(cache_dir, max_gb=cache_max_gb) if cache_dir is not None else None
    if pairs is None:
        pairs = [(i, i + o) for o in sorted({int(o) for o in offsets}) for i in range(len(paths) - o)]
    pairs = [_Pair(i, j, str(paths[i]), str(paths[j])) for i, j in pairs]

    flow_dir = Path(flow_dir)
    foreign_dir = shape = None
    if not claim_flow_dir(flow_dir):
        foreign_dir, flow_dir = flow_dir, (Path(own_dir) if own_dir is not None else None)
        if flow_dir is not None and not claim_flow_dir(flow_dir):
            raise FlowError(f"{flow_dir} holds files vidstyle did not make: choose a new or empty folder "
                            "for vidstyle's own flow files")
        shape = _read_frame(paths[0]).shape[:2] if paths else None
        _check_foreign_files(foreign_dir, pairs, shape)
        common = (str(foreign_dir), str(flow_dir) if flow_dir is not None else None)
        tasks = [(_foreign_pair, pair, *common) for pair in pairs]
        if pairs:
            tasks += [(_foreign_pair, pair, *common, True)
                      for pair in _extra_check_pairs(foreign_dir, paths, pairs, shape)]
    else:
        tasks = [(_own_pair, pair, settings, str(flow_dir), cache) for pair in pairs]
    if flow_dir is not None:
        flow_io.sweep_once(flow_dir)
        flow_io.sweep_once(flow_dir / RECORDS_DIR)

    stats = ComputeStats()
    total = len(pairs)
    residual = change = 0.0
    added = unevicted = 0

    def finished(done: _Done) -> None:
        nonlocal residual, change, added, unevicted
        residual, change = residual + done.residual, change + done.change
        if done.status == "checked":
            return
        setattr(stats, done.status, getattr(stats, done.status) + 1)
        added, unevicted = added + done.cache_bytes, unevicted + done.cache_bytes
        if progress is not None:
            progress(stats.total, total)
        if cache is not None and unevicted and unevicted >= EVICT_FRACTION * cache.max_bytes:
            cache.evict()
            unevicted = 0

    if jobs == 1 or len(tasks) <= 1:
        for worker, *args in tasks:
            finished(worker(*args))
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        # spawn: the caller may hold TensorFlow threads, which fork would copy.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=min(jobs, len(tasks)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(threads,),
        ) as pool:
            futures = [pool.submit(*task) for task in tasks]
            try:
                for future in concurrent.futures.as_completed(futures):
                    finished(future.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    if cache is not None and added:
        cache.evict()
    if foreign_dir is not None and change > 0 and residual / change > FOREIGN_MAX_RESIDUAL:
        raise FlowError(
            f"{foreign_dir}: its flows do not match these frames (warping with them leaves "
            f"{residual / change:.0%} of the change between frames, flows of these frames leave under "
            f"{FOREIGN_MAX_RESIDUAL:.0%}): they were made from other frames (another clip, --start or "
            f"--every), so make them again, or {DROP_FLOW_DIR}"
        )
    logger.info(
        "flows: %d computed, %d from cache, %d reused in %s",
        stats.computed,
        stats.cached,
        stats.reused,
        foreign_dir or flow_dir,
    )
    if foreign_dir is None:
        return FlowStore(flow_dir, stats)
    if flow_dir is None:
        return FlowStore(foreign_dir, stats)
    return FlowStore(flow_dir, stats, foreign_dir=foreign_dir, shape=shape)
