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
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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
    "read_flo",
    "read_reliability",
    "reliable_name",
    "write_flo",
    "write_reliability",
]

# Middlebury .flo header: float32 tag 202021.25 ("PIEH"), int32 width, int32 height.
FLO_MAGIC = 202021.25
FLO_HEADER_BYTES = 12
# Prefix of temporary files; a crash may leave such files behind, never a bad target.
TEMP_PREFIX = ".tmp-"
RELIABILITY_LEVELS = 255  # 8-bit maps, as consistencyChecker's PGM output


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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary name keeps ``path``'s suffix (OpenCV picks the codec by extension). On
    an exception (including KeyboardInterrupt) the temporary file is removed and
    ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=TEMP_PREFIX + target.stem + "-", suffix=target.suffix, dir=target.parent
    )
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


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
    flow = cv2.readOpticalFlow(str(path))
    if flow is None or flow.size == 0:
        raise FlowError(f"OpenCV could not read {path}; delete it and compute the flow again")
    return np.asarray(flow, dtype=np.float32)


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
