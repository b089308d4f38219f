"""Flow and reliability files: Middlebury ``.flo`` and 8-bit PGM/PNG, artistic-videos names.

File names follow artistic-videos' ``makeOptFlow.sh`` (Ruder et al. 2016), with
**1-based** frame numbers, so flows made by that tool can be reused and ours read by it:

* ``forward_{i}_{j}.flo``: flow from frame ``i`` to frame ``j = i + offset``, on ``i``'s grid.
* ``backward_{j}_{i}.flo``: flow from frame ``j`` to frame ``i``, on ``j``'s grid.
* ``reliable_{j}_{i}.pgm``: reliability of ``backward_{j}_{i}`` checked against
  ``forward_{i}_{j}``, on ``j``'s grid (the temporal weight of frame ``j``);
  ``reliable_{i}_{j}.pgm`` is the one of the forward flow, on ``i``'s grid.

All writers are atomic: they write a temporary file in the target folder and rename it
over the target (``os.replace``), so an interrupted run never leaves a truncated file.
Written files keep the user's umask (``0o666 & ~umask``), so a flow folder or cache shared
by a group stays readable. A run killed hard (``kill -9``) may leave a hidden temporary
file behind; the next run that writes into that folder deletes it (:func:`sweep_temp_files`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from flow.errors import FlowError
from flow.warp import check_flow

__all__ = [
    "FLO_MAGIC",
    "atomic_path",
    "backward_name",
    "forward_name",
    "is_stale_temp",
    "make_temp_dir",
    "read_flo",
    "read_flo_size",
    "read_reliability",
    "reliable_name",
    "sweep_once",
    "sweep_temp_files",
    "temp_path",
    "write_flo",
    "write_reliability",
]

logger = logging.getLogger(__name__)

# Middlebury .flo header: float32 tag 202021.25 ("PIEH"), int32 width, int32 height.
FLO_MAGIC = 202021.25
FLO_HEADER_BYTES = 12
RELIABILITY_LEVELS = 255  # 8-bit maps, as consistencyChecker's PGM output
# Prefix of temporary files; a crash may leave such files behind, never a bad target.
TEMP_PREFIX = ".tmp-"
TEMP_TOKEN_BYTES = 4
TEMP_STEM_CHARS = 80  # keeps temporary names under the 255-byte limit of file names
# Any temporary name of ours unchanged this long (seconds) is swept, e.g. one left by
# another render node sharing the folder; a leftover of a dead process of this host is
# swept at once.
STALE_TEMP_S = 24 * 3600.0


def _host_id() -> str:
    """Host name plus PID namespace: processes of two containers sharing a host name (and
    a folder) never take each other's live process for a dead one."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:24] or "host"
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return host
    return f"{host}-{namespace:x}"


_HOST = _host_id()
_TEMP_NAME = re.compile(
    r"^\.tmp-.*~(?P<host>[A-Za-z0-9-]{1,48})~(?P<pid>[0-9]{1,10})~[0-9a-f]{8}(\.[^.~]*)?$"
)
# Temporary names of earlier versions (no owner in the name): swept after STALE_TEMP_S.
_OLD_TEMP_NAMES = (
    re.compile(r"^\.tmp-(.*-)?[a-z0-9_]{8}(\.[A-Za-z0-9]{1,8})?$"),  # flow.io mkstemp, cache mkdtemp
    re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(\.[A-Za-z0-9]{1,8})?$"),  # vidstyle.images.write_atomic
    re.compile(r"^\..+\.png\.[a-z0-9_]{8}\.tmp$"),  # segmentation.write_mask
)
_SWEPT: set[str] = set()


def forward_name(i: int, j: int) -> str:
    """``forward_{i}_{j}.flo``: flow from frame ``i`` to ``j`` (1-based frame numbers)."""
    return f"forward_{i}_{j}.flo"


def backward_name(j: int, i: int) -> str:
    """``backward_{j}_{i}.flo``: flow from frame ``j`` to ``i`` (1-based frame numbers)."""
    return f"backward_{j}_{i}.flo"


def reliable_name(a: int, b: int, suffix: str = ".pgm") -> str:
    """``reliable_{a}_{b}.pgm``: reliability of the flow from frame ``a`` to ``b``.

    It lives on frame ``a``'s grid; frame numbers are 1-based.
    """
    return f"reliable_{a}_{b}{suffix}"


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh hidden temporary name beside ``path`` that says who made it.

    ``.tmp-{stem}~{host}~{pid}~{token}{suffix}``: same folder (so renaming it onto
    ``path`` is atomic) and same suffix (OpenCV and ffmpeg pick the format by
    extension). Host and process id let :func:`sweep_temp_files` tell the leftover of a
    killed run from a file another process is writing right now.
    """
    target = Path(path)
    token = secrets.token_hex(TEMP_TOKEN_BYTES)
    stem = target.stem[:TEMP_STEM_CHARS]
    return target.with_name(f"{TEMP_PREFIX}{stem}~{_HOST}~{os.getpid()}~{token}{target.suffix}")


def make_temp_dir(parent: str | os.PathLike[str], stem: str = "stage") -> Path:
    """Create an empty hidden folder in ``parent`` (made if needed), named as :func:`temp_path`.

    Its mode follows the umask (``0o777 & ~umask``), unlike ``tempfile.mkdtemp``'s 0700,
    so a folder renamed into place from it stays readable by the group sharing it.
    """
    folder = Path(parent)
    folder.mkdir(parents=True, exist_ok=True)
    sweep_once(folder)
    while True:
        temp = temp_path(folder / stem)
        try:
            temp.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return temp


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file exists (empty) when yielded; it is created with mode
    ``0o666 & ~umask`` (``tempfile.mkstemp`` would force 0600, leaving every renamed file
    owner-only), and writers that truncate or copy onto it keep that mode. Its name keeps
    ``path``'s suffix (OpenCV picks the codec by extension), see :func:`temp_path`. On an
    exception (including KeyboardInterrupt) the temporary file is removed and ``path``
    is untouched. The first write into a folder in this process also sweeps leftovers of
    killed runs from it (:func:`sweep_temp_files`).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_once(target.parent)
    while True:
        temp = temp_path(target)
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        break
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def is_stale_temp(path: str | os.PathLike[str], *, now: float | None = None) -> bool:
    """Whether ``path`` is a temporary file or folder of ours that nobody will finish.

    True for a name made by :func:`temp_path` on this host (and PID namespace) whose
    process is dead, and for any temporary name of ours (including those of earlier
    versions) unchanged for :data:`STALE_TEMP_S`. A file a live process of this host is
    writing is never stale, whatever its age; any other name is never stale.
    """
    path = Path(path)
    name = path.name
    match = _TEMP_NAME.match(name)
    if match is None and not any(p.match(name) for p in _OLD_TEMP_NAMES):
        return False
    if match is not None and match["host"] == _HOST:
        pid = int(match["pid"])
        if pid != os.getpid() and not _pid_alive(pid):
            return True
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except OSError:
        return False
    return age > STALE_TEMP_S


def sweep_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the stale temporary files and folders of ours in ``folder`` (not recursive).

    See :func:`is_stale_temp`; nothing else is touched, so a user's own hidden files
    stay. Races with another sweeper are harmless. Returns what was deleted.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(".") or not is_stale_temp(entry.path, now=now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:  # swept by another process meanwhile
            continue
        except OSError as exc:
            logger.debug("cannot sweep %s: %s", entry.path, exc)
            continue
        removed.append(Path(entry.path))
    if removed:
        logger.info("removed %d temporary files left by killed runs from %s", len(removed), folder)
    return removed


def sweep_once(folder: str | os.PathLike[str]) -> None:
    """:func:`sweep_temp_files` on ``folder`` once per process (later calls do nothing)."""
    key = os.path.abspath(folder)
    if key not in _SWEPT:
        _SWEPT.add(key)
        sweep_temp_files(folder)


def _write_with(path: Path, writer: Callable[[Path], bool], what: str) -> None:
    with atomic_path(path) as temp:
        if not writer(temp):
            raise FlowError(f"could not write {what} {path}; check the folder is writable")


def write_flo(path: str | os.PathLike[str], flow: np.ndarray) -> None:
    """Write a flow as Middlebury ``.flo`` (``cv2.writeOpticalFlow``), atomically.

    Parameters
    ----------
    path : path-like
        Target file; its name must end in ``.flo``.
    flow : np.ndarray
        ``(H, W, 2)`` flow in pixels, channel 0 = x.
    """
    path = Path(path)
    if path.suffix != ".flo":
        raise FlowError(f"flow files must end in .flo; got {path.name}")
    flow = check_flow(flow)
    _write_with(path, lambda temp: bool(cv2.writeOpticalFlow(str(temp), flow)), "flow file")


def read_flo(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a Middlebury ``.flo`` file (``cv2.readOpticalFlow``).

    Returns
    -------
    np.ndarray
        ``(H, W, 2)`` float32 flow in pixels, channel 0 = x.

    Raises
    ------
    FlowError
        Missing, truncated or otherwise invalid file (the message names it).
    """
    path = Path(path)
    read_flo_size(path)
    flow = cv2.readOpticalFlow(str(path))
    if flow is None or flow.size == 0:
        raise FlowError(f"OpenCV could not read {path}; delete it and compute the flow again")
    return np.asarray(flow, dtype=np.float32)


def read_flo_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` from a ``.flo`` header, without reading the flow.

    Raises
    ------
    FlowError
        Missing file, bad header, or a size that does not match the file length.
    """
    path = Path(path)
    if not path.is_file():
        raise FlowError(f"flow file {path} does not exist; compute the flows first")
    header = np.fromfile(path, dtype=np.uint8, count=FLO_HEADER_BYTES)
    if header.size == FLO_HEADER_BYTES:
        magic = header[:4].view("<f4")[0]
        width, height = (int(v) for v in header[4:].view("<i4"))
    else:
        magic, width, height = 0.0, 0, 0
    expected = FLO_HEADER_BYTES + 8 * width * height
    if magic != FLO_MAGIC or width < 1 or height < 1 or path.stat().st_size != expected:
        raise FlowError(
            f"{path} is not a valid .flo file (bad header or truncated); delete it and "
            "compute the flow again"
        )
    return width, height


def write_reliability(path: str | os.PathLike[str], weights: np.ndarray) -> None:
    """Write a reliability map ``(H, W)`` in ``[0, 1]`` as an 8-bit PGM/PNG, atomically.

    Values are stored as ``round(255 * c)``, the scale of ``consistencyChecker``.
    """
    path = Path(path)
    weights = np.asarray(weights)
    if weights.ndim != 2:
        raise FlowError(f"a reliability map must be (H, W); got shape {weights.shape}")
    if path.suffix.lower() not in (".pgm", ".png"):
        raise FlowError(f"reliability maps are written as .pgm or .png; got {path.name}")
    levels = np.clip(np.rint(weights.astype(np.float64) * RELIABILITY_LEVELS), 0, 255)
    image = levels.astype(np.uint8)
    _write_with(path, lambda temp: bool(cv2.imwrite(str(temp), image)), "reliability map")


def read_reliability(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a reliability map (8- or 16-bit gray PGM/PNG).

    Returns
    -------
    np.ndarray
        ``(H, W)`` float32 in ``[0, 1]``.
    """
    path = Path(path)
    if not path.is_file():
        raise FlowError(f"reliability map {path} does not exist; compute the flows first")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2:
        raise FlowError(
            f"{path} is not a readable gray image; delete it and compute the flows again"
        )
    scale = np.iinfo(image.dtype).max if np.issubdtype(image.dtype, np.integer) else 1.0
    return (image.astype(np.float32) / np.float32(scale)).clip(0.0, 1.0)
