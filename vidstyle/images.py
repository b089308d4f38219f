"""Single images: robust loading, resizing and atomic saving.

Every image handed to the rest of vidstyle is a float32 RGB array in [0, 1] with shape
``(H, W, 3)``. :func:`load_image` turns whatever a user gives us (grayscale, RGBA,
16-bit, float TIFF, BGR from OpenCV) into that, and :func:`save_image` turns it back into
a file without ever leaving a half-written file behind.

Downscaling always uses ``cv2.INTER_AREA`` (DESIGN.md: linear interpolation alone
raises the temporal error by about 15 % through aliasing flicker); enlarging uses
``cv2.INTER_CUBIC``.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import warnings
from pathlib import Path

import cv2
import numpy as np

from flow.io import atomic_path, temp_path
from vidstyle.errors import InputError, OptionError, OutputError, ResourceError

__all__ = [
    "MAX_PIXELS",
    "MIN_SIDE",
    "as_rgb_float",
    "image_size",
    "load_image",
    "long_side_size",
    "output_error",
    "read_raw",
    "read_rgb",
    "resize_long_side",
    "resize_to",
    "save_image",
    "temp_path_for",
    "write_atomic",
]

logger = logging.getLogger(__name__)

#: Smallest side (pixels) an input image may have: the VGG net pools 4 times (÷16).
MIN_SIDE = 16
#: Largest image (pixels) accepted without an explicit downscale (``--size``).
MAX_PIXELS = 4096 * 4096

_JPEG_MAGIC = b"\xff\xd8\xff"
_EXIF_ORIENTATION = 0x0112
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
#: Formats :func:`save_image` may write with 16 bits per channel.
_SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff")


def load_image(path: str | os.PathLike[str], *, max_side: int | None = None) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike
        PNG, JPEG, PPM/PGM, BMP, TIFF or WebP file (anything OpenCV or imageio reads).
    max_side : int, optional
        When given, an image whose long side exceeds it is downscaled on load
        (``cv2.INTER_AREA``, aspect kept) so that its long side equals ``max_side``;
        the size limits are then checked on the result only, so huge photos are fine
        when the caller downscales anyway. Smaller images are never enlarged here.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1].

    Raises
    ------
    InputError
        The file is missing, empty or corrupt; it is smaller than :data:`MIN_SIDE`
        pixels on a side; or it holds more than :data:`MAX_PIXELS` pixels (the message
        names ``--size``).

    Notes
    -----
    Conversions: grayscale is replicated to 3 channels; an alpha channel is
    composited over a **white** background (a transparent PNG logo looks as it does
    in a browser); 16-bit integers are divided by 65535; float images are clipped to
    [0, 1] (NaN becomes 0); OpenCV's BGR order becomes RGB. JPEG EXIF orientation is
    applied.
    """
    path = Path(path)
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    image = read_rgb(path)
    if max_side is not None and max(image.shape[:2]) > max_side:
        image = resize_long_side(image, max_side)
    _check_size(image, path, downscaled=max_side is not None)
    return image


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to float32 RGB in [0, 1] without size checks.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1], converted as in :func:`load_image`.

    Raises
    ------
    InputError
        The file is missing, empty or corrupt.
    """
    path = Path(path)
    return as_rgb_float(_read_raw(path), path=path)


def read_raw(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file with its own pixel type and channels (BGR(A) order, as OpenCV).

    Parameters
    ----------
    path : str or os.PathLike
        Image file (JPEG EXIF orientation applied).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` uint8, uint16 or float array.

    Raises
    ------
    InputError
        The file is missing, empty or corrupt.
    """
    return _read_raw(Path(path))


def as_rgb_float(raw: np.ndarray, *, path: Path | None = None, bgr: bool = True) -> np.ndarray:
    """Convert a decoded image array to float32 RGB in [0, 1], shape ``(H, W, 3)``.

    Parameters
    ----------
    raw : numpy.ndarray
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)`` (gray + alpha), ``(H, W, 3)`` or
        ``(H, W, 4)`` array of uint8, uint16 or float.
    path : pathlib.Path, optional
        File the array came from, used in error messages.
    bgr : bool
        True when the channels are in OpenCV's BGR(A) order.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1]; alpha is composited over white.

    Raises
    ------
    InputError
        Unsupported pixel type or channel count.
    """
    name = f"'{path}'" if path is not None else "image"
    if raw.dtype == np.uint8:
        image = raw.astype(np.float32) / 255.0
    elif raw.dtype == np.uint16:
        image = raw.astype(np.float32) / 65535.0
    elif raw.dtype == np.bool_:
        image = raw.astype(np.float32)
    elif np.issubdtype(raw.dtype, np.floating):
        image = np.nan_to_num(raw.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        image = np.clip(image, 0.0, 1.0)
    else:
        raise InputError(
            f"cannot use {name}: {raw.dtype} pixels are not supported; "
            "re-export it as 8- or 16-bit PNG/JPEG"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise InputError(
            f"cannot use {name}: unsupported layout {raw.shape}; re-export it as RGB PNG/JPEG"
        )
    channels = image.shape[2]
    alpha = None
    if channels in (2, 4):
        alpha = image[:, :, -1:]
        image = image[:, :, :-1]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif bgr:
        image = image[:, :, ::-1]
    if alpha is not None:
        image = image * alpha + (1.0 - alpha)  # composite over white
    return np.ascontiguousarray(image, dtype=np.float32)


def resize_long_side(image: np.ndarray, long_side: int) -> np.ndarray:
    """Resize so that the longer side is ``long_side`` pixels, keeping the aspect ratio.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` image.
    long_side : int
        Target length of the longer side, >= 1.

    Returns
    -------
    numpy.ndarray
        Resized image (``cv2.INTER_AREA`` when shrinking, ``cv2.INTER_CUBIC`` when
        enlarging); the input itself when it already has that size. Both sides are
        at least 1 pixel.
    """
    if long_side < 1:
        raise ValueError(f"long_side must be >= 1, got {long_side}")
    return resize_to(image, long_side_size(image.shape[:2], long_side))


def long_side_size(size_hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    """Size ``(H, W)`` that :func:`resize_long_side` produces for an image of ``size_hw``.

    Parameters
    ----------
    size_hw : tuple of int
        Current ``(height, width)``.
    long_side : int
        Target length of the longer side.

    Returns
    -------
    tuple of int
        ``(height, width)``, each at least 1.
    """
    h, w = int(size_hw[0]), int(size_hw[1])
    scale = long_side / max(h, w)
    if h >= w:
        return long_side, max(1, round(w * scale))
    return max(1, round(h * scale)), long_side


def resize_to(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize an image to exactly ``(height, width)``.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` image.
    size_hw : tuple of int
        Target ``(height, width)``, each >= 1.

    Returns
    -------
    numpy.ndarray
        Resized image of the same dtype and channel count. ``cv2.INTER_AREA`` is used
        when either side shrinks (no aliasing), ``cv2.INTER_CUBIC`` otherwise; float
        results are clipped back to [0, 1] (cubic overshoot). The input itself is
        returned when it already has the requested size.
    """
    h, w = int(size_hw[0]), int(size_hw[1])
    if h < 1 or w < 1:
        raise ValueError(f"size_hw must be positive, got {size_hw}")
    old_h, old_w = image.shape[:2]
    if (old_h, old_w) == (h, w):
        return image
    shrinking = h < old_h or w < old_w
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = cv2.resize(image, (w, h), interpolation=interpolation)
    if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    if np.issubdtype(out.dtype, np.floating) and not shrinking:
        np.clip(out, 0.0, 1.0, out=out)
    return out


def save_image(path: str | os.PathLike[str], image: np.ndarray, *, bit_depth: int = 8) -> None:
    """Write an image atomically (temp file in the same folder, then ``os.replace``).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the format follows the extension (``.png`` recommended). Missing
        parent folders are created.
    image : numpy.ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray; float in [0, 1] (clipped), or uint8 /
        uint16 used as is.
    bit_depth : {8, 16}
        Bits per channel written for float images; 16 only for PNG and TIFF.

    Raises
    ------
    OutputError
        The folder cannot be created or written, or the format is unknown.
    ResourceError
        The disk is full.

    Notes
    -----
    A crash at any moment leaves either the previous file or the complete new one,
    never a truncated image, so resuming runs may trust every file they find.
    """
    path = Path(path)
    ext = path.suffix.lower() or ".png"
    if bit_depth not in (8, 16):
        raise OptionError(f"bit depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and ext not in _SIXTEEN_BIT_EXTENSIONS:
        raise OptionError(f"cannot write 16-bit '{path}': use a .png or .tif file name")
    pixels = _to_storage(image, bit_depth)
    try:
        ok, encoded = cv2.imencode(ext, pixels)
    except cv2.error:
        ok, encoded = False, None
    if not ok:
        raise OutputError(
            f"cannot write '{path}': unknown image format '{ext}'; use .png or .jpg"
        )
    write_atomic(path, encoded.tobytes())


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to ``path`` through a temp file in the same folder and a rename.

    The file gets mode ``0o666 & ~umask``, like any file the user creates. The first
    write into a folder in this process also deletes temp files that killed runs left
    there (:func:`flow.io.sweep_temp_files`: only our temp names, only when their
    process is dead or they are a day old).

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; missing parent folders are created.
    data : bytes
        Complete file content.

    Raises
    ------
    OutputError
        The folder cannot be created or written.
    ResourceError
        The disk is full.
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise output_error(path, exc) from exc


def temp_path_for(path: str | os.PathLike[str]) -> Path:
    """A fresh hidden temp name beside ``path`` (same folder, same extension).

    Parameters
    ----------
    path : str or os.PathLike
        Final destination.

    Returns
    -------
    pathlib.Path
        ``<folder>/.tmp-<stem>~<host>~<pid>~<random><suffix>`` (:func:`flow.io.temp_path`):
        renaming it onto ``path`` is atomic because both are on one file system, and a
        leftover of a killed run is recognised and swept by later runs.
    """
    return temp_path(path)


def output_error(path: Path, exc: OSError) -> OutputError | ResourceError:
    """Translate an ``OSError`` raised while writing ``path`` into a user-facing error.

    Parameters
    ----------
    path : pathlib.Path
        The file being written.
    exc : OSError
        The error caught.

    Returns
    -------
    OutputError or ResourceError
        ``ResourceError`` for a full disk or quota, ``OutputError`` otherwise.
    """
    if exc.errno in _DISK_FULL:
        return ResourceError(f"disk full while writing '{path}'; free some space or choose another -o")
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"cannot write '{path}': {reason}; check permissions or choose another -o")


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Read an image's ``(width, height)`` from its header without decoding the pixels.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.

    Returns
    -------
    tuple of int or None
        ``(width, height)``, or None when the header cannot be read.
    """
    try:
        from PIL import Image

        with Image.open(path) as handle:
            width, height = handle.size
            # EXIF orientations 5-8 rotate by 90 degrees; OpenCV applies them on JPEG read.
            if handle.format == "JPEG" and handle.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width
            return width, height
    except Exception as exc:
        logger.debug("no header size for %s (%s); decoding it", path, exc)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        return None
    return raw.shape[1], raw.shape[0]


def _read_raw(path: Path) -> np.ndarray:
    """Decode a file with OpenCV (imageio as fallback); channels in BGR order."""
    if not path.exists():
        raise InputError(f"cannot read '{path}': file not found; check the path")
    if path.is_dir():
        raise InputError(f"cannot read '{path}': it is a folder, not an image file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise InputError(f"cannot read '{path}': {exc.strerror}; check its permissions") from exc
    if not head:
        raise InputError(f"cannot read '{path}': file is empty; re-export it as PNG/JPEG")
    if path.suffix.lower() == ".exr":  # values as stored (scene-linear EXR looks dark here)
        from vidstyle.exr import read_exr

        rgb = read_exr(path).astype(np.float32)
        return np.ascontiguousarray(rgb[:, :, [2, 1, 0, 3][: rgb.shape[2]]])
    # JPEG: IMREAD_COLOR applies the EXIF orientation that IMREAD_UNCHANGED ignores.
    flags = cv2.IMREAD_COLOR if head.startswith(_JPEG_MAGIC) else cv2.IMREAD_UNCHANGED
    raw = None
    try:
        raw = cv2.imread(str(path), flags)
    except cv2.error:
        raw = None
    if raw is not None and raw.size:
        return raw
    try:
        import imageio.v3 as iio

        with warnings.catch_warnings():  # imageio's plugin probing warns on odd files
            warnings.simplefilter("ignore")
            rgb = np.asarray(iio.imread(path, index=0))
    except Exception as exc:  # imageio raises many types for bad files
        raise InputError(
            f"cannot read '{path}': file is empty or corrupt; re-export it as PNG/JPEG"
        ) from exc
    if rgb.ndim == 3 and rgb.shape[2] in (3, 4):
        rgb = rgb[:, :, [2, 1, 0, 3][: rgb.shape[2]]]  # to BGR(A) like OpenCV
    return rgb


def _check_size(image: np.ndarray, path: Path, *, downscaled: bool) -> None:
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        hint = "; use a larger --size or a less elongated image" if downscaled else ""
        raise InputError(
            f"'{path}' is {w}x{h} px, smaller than {MIN_SIDE} px on a side; "
            f"use a larger image{hint}"
        )
    if h * w > MAX_PIXELS:
        raise InputError(
            f"'{path}' is {w}x{h} px, more than the {MAX_PIXELS / 1e6:.1f} megapixel limit; "
            "use --size N to downscale it"
        )


def _to_storage(image: np.ndarray, bit_depth: int) -> np.ndarray:
    """Convert an RGB(or gray) image to the BGR integer array OpenCV writes."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"expected an (H, W, 3) or (H, W) image, got shape {image.shape}")
    if image.dtype in (np.uint8, np.uint16):
        pixels = image
    else:
        top = 65535.0 if bit_depth == 16 else 255.0
        dtype = np.uint16 if bit_depth == 16 else np.uint8
        pixels = np.rint(np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * top).astype(dtype)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    return pixels


def prepare_output_dir(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if needed and prove it is writable, before any long work starts.

    Raises
    ------
    OutputError
        If the folder cannot be created (e.g. a file is in the way) or written.
    ResourceError
        If the disk is full.
    """
    folder = Path(folder)
    probe = folder / f".vidstyle-write-test-{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise output_error(folder, exc) from None
    return folder
