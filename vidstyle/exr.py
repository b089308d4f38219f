"""OpenEXR files: read any RGB(A)/Y(A) scanline image, write half-float RGB(A).

Two backends, the first that works is used:

1. OpenCV, when its build has OpenEXR (``cv2.getBuildInformation()`` lists ``OpenEXR:`` with a
   version). OpenCV keeps EXR off unless ``OPENCV_IO_ENABLE_OPENEXR`` is set when it first
   touches an EXR file; :func:`exr_backend` sets it to ``1`` for this process unless the user
   set it already (``0`` keeps it off). The wheels of ``opencv-contrib-python-headless`` on
   PyPI are built without OpenEXR, so this backend is usually absent.
2. The ``OpenEXR`` package (the Academy Software Foundation's bindings, wheels with the
   library inside): ``pip install 'vidstyle[exr]'``.

Without either, reading or writing an EXR raises a one-line :class:`~vidstyle.errors.InputError`
/ :class:`~vidstyle.errors.OptionError` that says how to enable it.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import cv2
import numpy as np

from flow.io import atomic_path
from vidstyle.errors import InputError, OptionError, OutputError
from vidstyle.images import output_error

__all__ = ["EXR_HINT", "exr_backend", "exr_size", "read_exr", "write_exr"]

EXR_HINT = ("this OpenCV build has no OpenEXR; install the OpenEXR package with "
            "pip install 'vidstyle[exr]' (or pip install OpenEXR) and rerun")
_OPENCV_ENV = "OPENCV_IO_ENABLE_OPENEXR"


@functools.cache
def exr_backend() -> str | None:
    """"opencv" or "openexr", whichever reads and writes EXR here; None when neither does."""
    build = re.search(r"^\s*OpenEXR:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    if build is not None and build.group(1).upper() != "NO":
        os.environ.setdefault(_OPENCV_ENV, "1")  # read by OpenCV at its first EXR call
        if os.environ[_OPENCV_ENV].strip().lower() in ("1", "true", "on", "yes"):
            return "opencv"
    try:
        import OpenEXR  # noqa: F401
    except ImportError:
        return None
    return "openexr"


def _need_backend(path: Path, *, writing: bool) -> str:
    backend = exr_backend()
    if backend is None:
        what = "write" if writing else "read"
        error = OptionError if writing else InputError
        raise error(f"cannot {what} '{path}': {EXR_HINT}")
    return backend


def read_exr(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an EXR file's R, G, B (or Y) and A channels.

    Parameters
    ----------
    path : str or os.PathLike
        A single-part scanline or tiled EXR with unprefixed ``R``/``G``/``B`` (or ``Y``)
        channels and optionally ``A``.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` or ``(H, W, 4)`` in **RGB(A)** order, float16 when every channel is
        half (values untouched), else float32.

    Raises
    ------
    InputError
        The file is missing or unreadable, has no RGB/Y channels, or no backend reads EXR.
    """
    path = Path(path)
    backend = _need_backend(path, writing=False)
    if not path.is_file():
        raise InputError(f"cannot read '{path}': file not found; check the path")
    if backend == "opencv":
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise InputError(f"cannot read '{path}': not a readable EXR file; re-export it")
        if raw.ndim == 2:
            return np.repeat(raw[:, :, None], 3, axis=2)
        return np.ascontiguousarray(raw[:, :, [2, 1, 0, 3][: raw.shape[2]]])
    import OpenEXR

    try:
        with OpenEXR.File(str(path), separate_channels=True) as handle:
            channels = {name: np.asarray(ch.pixels) for name, ch in handle.channels().items()}
    except Exception as exc:  # the bindings raise RuntimeError/ValueError/OSError for bad files
        raise InputError(f"cannot read '{path}': not a readable EXR file ({type(exc).__name__}); "
                         "re-export it") from exc
    if all(c in channels for c in "RGB"):
        planes = [channels["R"], channels["G"], channels["B"]]
    elif "Y" in channels:
        planes = [channels["Y"]] * 3
    else:
        raise InputError(f"cannot use '{path}': it has no R, G, B (or Y) channels "
                         f"({', '.join(sorted(channels)) or 'none'}); export the beauty pass as RGB(A)")
    if "A" in channels:
        planes.append(channels["A"])
    dtype = np.float16 if all(p.dtype == np.float16 for p in planes) else np.float32
    return np.stack([p.astype(dtype, copy=False) for p in planes], axis=2)


def exr_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(width, height)`` of an EXR file (data window), or None when it cannot be read."""
    try:
        if exr_backend() == "openexr":
            import OpenEXR

            with OpenEXR.File(str(path), header_only=True) as handle:
                (x0, y0), (x1, y1) = np.asarray(handle.header()["dataWindow"]).reshape(2, 2).tolist()
                return int(x1 - x0 + 1), int(y1 - y0 + 1)
        image = read_exr(path)
    except Exception:  # any unreadable header is "no size"
        return None
    return image.shape[1], image.shape[0]


def write_exr(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write RGB or RGBA pixels as a half-float, ZIP-compressed EXR, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination ``.exr`` file (parent folders are created).
    image : numpy.ndarray
        ``(H, W, 3)`` or ``(H, W, 4)`` RGB(A), float (stored as half; values beyond
        ±65504 become ±inf as in any half-float file).

    Raises
    ------
    OptionError
        No backend writes EXR here.
    OutputError, ResourceError
        The file cannot be written (permissions, full disk).
    """
    path = Path(path)
    backend = _need_backend(path, writing=True)
    half = np.ascontiguousarray(np.asarray(image).astype(np.float16))
    if half.ndim != 3 or half.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) or (H, W, 4) image, got shape {half.shape}")
    try:
        with atomic_path(path) as tmp:
            if backend == "opencv":
                bgr = half.astype(np.float32)[:, :, [2, 1, 0, 3][: half.shape[2]]]
                if not cv2.imwrite(str(tmp), bgr, [cv2.IMWRITE_EXR_TYPE, cv2.IMWRITE_EXR_TYPE_HALF]):
                    raise OSError(f"OpenCV could not encode {tmp.name}")
            else:
                import OpenEXR

                header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
                channels = {"RGBA" if half.shape[2] == 4 else "RGB": half}
                with OpenEXR.File(header, channels) as handle:
                    handle.write(str(tmp))
    except OSError as exc:
        raise output_error(path, exc) from exc
    except RuntimeError as exc:  # the OpenEXR bindings report write failures so
        raise OutputError(f"cannot write '{path}': {exc}; check the disk and permissions or choose another -o") \
            from exc
