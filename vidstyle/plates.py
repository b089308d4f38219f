"""Plate pixels in and out: bit depth, transfer function, alpha and output format.

The network sees what every other part of vidstyle sees: float32 **straight** (not
premultiplied) RGB in [0, 1], **display-referred sRGB**. This module is the pair of
conversions around it (DESIGN.md: pair each transform with its inverse):

* :func:`plate_rgb` — a decoded plate file (uint8, uint16, half or float; RGB, RGBA, grey)
  → straight sRGB for the network: premultiplied RGB is divided by alpha first, then
  scene-linear values are encoded with the sRGB curve (IEC 61966-2-1) and clipped to [0, 1].
* :func:`output_pixels` — a stylized frame (straight sRGB, float) → the pixels written: the
  sRGB curve undone for scene-linear EXR, the plate's highlights (values above 1) restored
  as a gain, premultiplied again by the plate's alpha when the plate was premultiplied,
  quantized once (8/16-bit) or stored as half float, and the plate's alpha channel appended
  untouched.

Defaults follow the file (``"auto"``): EXR plates are scene-linear and premultiplied (the
OpenEXR convention), every other format sRGB-encoded and straight (the PNG convention).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidstyle.errors import InputError, OptionError
from vidstyle.images import image_size, read_raw, save_image

__all__ = [
    "ALPHA_MODES",
    "OUTPUT_FORMATS",
    "OUTPUT_SIZES",
    "TRANSFERS",
    "PlateInfo",
    "PlateOptions",
    "alpha_region",
    "linear_to_srgb",
    "output_extension",
    "output_pixels",
    "output_premultiplied",
    "plate_alpha",
    "plate_rgb",
    "plate_size",
    "probe_plate",
    "read_plate",
    "srgb_to_linear",
    "write_plate",
]

TRANSFERS = ("auto", "srgb", "linear")
ALPHA_MODES = ("auto", "straight", "premultiplied")
OUTPUT_FORMATS = ("auto", "png", "png16", "tiff16", "exr")
OUTPUT_SIZES = ("working", "source")
_EXTENSIONS = {"png": ".png", "png16": ".png", "tiff16": ".tif", "exr": ".exr"}
_DTYPES = {"png": np.uint8, "png16": np.uint16, "tiff16": np.uint16, "exr": np.float16}
#: sRGB curve constants (IEC 61966-2-1).
_SRGB_KNEE, _SRGB_LINEAR_KNEE, _SRGB_SLOPE, _SRGB_GAMMA, _SRGB_OFFSET = 0.04045, 0.0031308, 12.92, 2.4, 0.055


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """sRGB code values in [0, 1] → linear light (IEC 61966-2-1), float32."""
    v = np.asarray(encoded, np.float32)
    return np.where(v <= _SRGB_KNEE, v / _SRGB_SLOPE,
                    ((v + _SRGB_OFFSET) / (1 + _SRGB_OFFSET)) ** _SRGB_GAMMA).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light → sRGB code values (IEC 61966-2-1), float32; the inverse of :func:`srgb_to_linear`.

    Negative values map to 0; values above 1 follow the curve (clip afterwards for a display).
    """
    v = np.maximum(np.asarray(linear, np.float32), 0.0)
    return np.where(v <= _SRGB_LINEAR_KNEE, v * _SRGB_SLOPE,
                    (1 + _SRGB_OFFSET) * v ** (1 / _SRGB_GAMMA) - _SRGB_OFFSET).astype(np.float32)


@dataclass(frozen=True)
class PlateOptions:
    """How plate files are read and what the stylized frames are written as.

    Attributes
    ----------
    output_format : {"auto", "png", "png16", "tiff16", "exr"}
        File format of ``frames/``: 8-bit PNG, 16-bit PNG, 16-bit TIFF or half-float EXR;
        "auto": like the plate (png for 8-bit plates and videos, png16 for 16-bit and
        float TIFF/PNG, exr for EXR).
    output_size : {"working", "source"}
        Frames at the working size (``--size``), or at the plate's own size (guided
        upsampling, :mod:`vidstyle.upsample`).
    input_transfer : {"auto", "srgb", "linear"}
        Encoding of the plate's values: "linear" (scene-linear, converted to sRGB for the
        network and back when written) or "srgb" (display-referred, used as they are);
        "auto": linear for EXR, srgb otherwise.
    alpha : {"auto", "straight", "premultiplied"}
        How the plate's RGB relates to its alpha; "auto": premultiplied for EXR, straight
        otherwise. The network always sees straight RGB.
    alpha_mask : bool
        Leave fully transparent pixels out of the style statistics (plates with alpha).
    """

    output_format: str = "auto"
    output_size: str = "working"
    input_transfer: str = "auto"
    alpha: str = "auto"
    alpha_mask: bool = True

    def __post_init__(self):
        for name, allowed in (("output_format", OUTPUT_FORMATS), ("output_size", OUTPUT_SIZES),
                              ("input_transfer", TRANSFERS), ("alpha", ALPHA_MODES)):
            if getattr(self, name) not in allowed:
                raise OptionError(f"unknown --{name.replace('_', '-')} {getattr(self, name)!r}: choose "
                                  f"{', '.join(allowed)}")

    def transfer_of(self, path: Path) -> str:
        """"srgb" or "linear" for a plate file (auto: linear for EXR)."""
        if self.input_transfer != "auto":
            return self.input_transfer
        return "linear" if Path(path).suffix.lower() == ".exr" else "srgb"

    def alpha_of(self, path: Path) -> str:
        """"straight" or "premultiplied" for a plate file (auto: premultiplied for EXR and for a
        TIFF whose ExtraSamples tag says associated alpha, straight otherwise)."""
        if self.alpha != "auto":
            return self.alpha
        suffix = Path(path).suffix.lower()
        if suffix == ".exr" or (suffix in (".tif", ".tiff") and _tiff_associated_alpha(Path(path))):
            return "premultiplied"
        return "straight"

    def resolved(self, info: PlateInfo, first: Path | None = None) -> PlateOptions:
        """These options with every "auto" replaced by what it means for this plate (``first``:
        its first file, whose tags may say more)."""
        fmt = self.output_format
        if fmt == "auto":
            fmt = {"uint8": "png", "uint16": "png16", "float": "png16", "exr": "exr"}[info.kind]
            if info.tiff and fmt == "png16":
                fmt = "tiff16"
        sample = first or Path(f"plate{'.exr' if info.kind == 'exr' else '.png'}")
        return dataclasses.replace(self, output_format=fmt, input_transfer=self.transfer_of(sample),
                                   alpha=self.alpha_of(sample))

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PlateInfo:
    """What the first plate file holds.

    Attributes
    ----------
    kind : {"uint8", "uint16", "float", "exr"}
        Pixel type ("uint8" for video files).
    tiff : bool
        The plate is a TIFF (deep TIFF plates are written back as TIFF by default).
    alpha : bool
        It has an alpha channel.
    size : (int, int)
        ``(width, height)``.
    """

    kind: str
    alpha: bool
    size: tuple[int, int]
    tiff: bool = False

    @property
    def deep(self) -> bool:
        """More than 8 bits per channel (16-bit, float or EXR)."""
        return self.kind != "uint8"


def _tiff_associated_alpha(path: Path) -> bool:
    """True when a TIFF's ExtraSamples tag marks its alpha as associated (premultiplied)."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as handle:
            return any(int(v) == 1 for v in (handle.pages[0].extrasamples or ()))  # 1: ASSOCALPHA
    except Exception:  # not a TIFF tifffile reads: no tag to go by
        return False


def read_plate(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a plate file with its own pixel type, channels in RGB(A) order.

    Parameters
    ----------
    path : str or os.PathLike
        PNG, TIFF, JPEG, … (OpenCV) or EXR (:mod:`vidstyle.exr`).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` or ``(H, W, 4)``; uint8, uint16, float16 or float32. Grey files are
        repeated to RGB (grey + alpha keeps its alpha).

    Raises
    ------
    InputError
        Missing, unreadable or of an unsupported layout.
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":
        from vidstyle.exr import read_exr

        return read_exr(path)
    raw = read_raw(path)
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.ndim != 3 or raw.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"cannot use '{path}': unsupported layout {raw.shape}; re-export it as RGB(A)")
    channels = raw.shape[2]
    if channels in (1, 2):
        grey = np.repeat(raw[:, :, :1], 3, axis=2)
        return np.concatenate([grey, raw[:, :, 1:]], axis=2) if channels == 2 else grey
    return np.ascontiguousarray(raw[:, :, [2, 1, 0, 3][:channels]])


def _scale(raw: np.ndarray) -> float:
    if raw.dtype == np.uint8:
        return 255.0
    if raw.dtype == np.uint16:
        return 65535.0
    if np.issubdtype(raw.dtype, np.floating):
        return 1.0
    raise InputError(f"{raw.dtype} pixels are not supported; re-export the plate as 8/16-bit or float")


def plate_alpha(raw: np.ndarray) -> np.ndarray | None:
    """The alpha channel of a :func:`read_plate` array, untouched (its own dtype), or None."""
    return raw[:, :, 3] if raw.shape[2] == 4 else None


def _straight(raw: np.ndarray, alpha_mode: str) -> np.ndarray:
    """RGB as float32 in the file's own encoding (0..1 for integers), un-premultiplied."""
    scale = _scale(raw)
    rgb = np.nan_to_num(raw[:, :, :3].astype(np.float32) / np.float32(scale), nan=0.0, posinf=65504.0,
                        neginf=0.0)
    alpha = plate_alpha(raw)
    if alpha is not None and alpha_mode == "premultiplied":
        a = alpha.astype(np.float32)[:, :, None] / np.float32(scale)
        rgb = np.where(a > 0, rgb / np.maximum(a, np.float32(1e-12)), 0.0).astype(np.float32)
    return rgb


def plate_rgb(raw: np.ndarray, *, transfer: str, alpha: str) -> np.ndarray:
    """Straight display-referred RGB in [0, 1] (float32) of a plate, as the network sees it.

    Parameters
    ----------
    raw : numpy.ndarray
        :func:`read_plate` output.
    transfer : {"srgb", "linear"}
        Encoding of the values; linear values are sRGB-encoded.
    alpha : {"straight", "premultiplied"}
        Premultiplied RGB is divided by alpha (where alpha > 0; 0 elsewhere) before anything else.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 in [0, 1] (values above 1 clipped; :func:`output_pixels`
        restores them from the plate).
    """
    rgb = _straight(raw, alpha)
    if transfer == "linear":
        rgb = linear_to_srgb(rgb)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def alpha_region(raw: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray | None:
    """Non-transparent pixels of a plate at ``size_hw``: (H, W) float32, 1 where alpha > 0, else 0.

    Shrinking averages alpha (``INTER_AREA``), so a working-size pixel counts as soon as any
    plate pixel under it is not fully transparent. None for a plate without alpha.
    """
    alpha = plate_alpha(raw)
    if alpha is None:
        return None
    return (_resized(alpha, size_hw).astype(np.float32) > 0).astype(np.float32)


def plate_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(width, height)`` of a plate file from its header (EXR included), or None."""
    if Path(path).suffix.lower() == ".exr":
        from vidstyle.exr import exr_size

        return exr_size(path)
    return image_size(path)


def probe_plate(path: str | os.PathLike[str] | None) -> PlateInfo:
    """Pixel type, alpha and size of a plate file; a video file (None) is 8-bit RGB."""
    if path is None:
        return PlateInfo("uint8", False, (0, 0))
    raw = read_plate(path)
    if Path(path).suffix.lower() == ".exr":
        kind = "exr"
    elif raw.dtype == np.uint8:
        kind = "uint8"
    elif raw.dtype == np.uint16:
        kind = "uint16"
    else:
        kind = "float"
    return PlateInfo(kind, raw.shape[2] == 4, (raw.shape[1], raw.shape[0]),
                     Path(path).suffix.lower() in (".tif", ".tiff"))


def output_extension(output_format: str) -> str:
    """File extension of a resolved output format (``.png``, ``.tif``, ``.exr``)."""
    return _EXTENSIONS[output_format]


def _resized(array: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """INTER_AREA (shrinking) / INTER_CUBIC resize of an array of any dtype, dtype kept."""
    if array.shape[:2] == tuple(size_hw):
        return array
    h, w = size_hw
    shrinking = h < array.shape[0] or w < array.shape[1]
    work = array.astype(np.float32) if array.dtype == np.float16 else array
    out = cv2.resize(work, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return out.astype(array.dtype)


def _convert_alpha(alpha: np.ndarray, dtype: type) -> np.ndarray:
    """The alpha channel in the output's dtype: a copy when the dtypes agree (bit-exact)."""
    if alpha.dtype == dtype:
        return alpha
    if alpha.dtype == np.uint8 and dtype == np.uint16:
        return alpha.astype(np.uint16) * np.uint16(257)  # exact: 255 → 65535
    a = alpha.astype(np.float32) / np.float32(_scale(alpha))
    if dtype == np.float16:
        return a.astype(np.float16)
    top = np.iinfo(dtype).max
    return np.rint(np.clip(a, 0.0, 1.0) * top).astype(dtype)


def output_pixels(stylized: np.ndarray, plate: np.ndarray | None, options: PlateOptions, *,
                  plate_is_exr: bool) -> np.ndarray:
    """The pixels written for one stylized frame (quantized once, alpha appended).

    Parameters
    ----------
    stylized : (H, W, 3) float
        Straight display-referred sRGB in [0, 1] at the output size.
    plate : numpy.ndarray or None
        The plate (:func:`read_plate`) of this frame, any size (resized to the output size
        for its alpha and highlights), or None (video source: no alpha, no highlights).
    options : PlateOptions
        Resolved options (no "auto").
    plate_is_exr : bool
        The plate is an EXR file (an EXR output then keeps the plate's transfer).

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3|4)`` RGB(A) of the output format's dtype (uint8, uint16 or float16).

    Notes
    -----
    EXR output is scene-linear (the sRGB curve undone), except for an EXR plate read with
    ``input_transfer="srgb"`` (then its display-referred values are written back as such).
    For a scene-linear plate, a pixel whose brightest channel exceeds 1 (``m = max(R,G,B)``
    of the straight plate) has the stylized linear RGB multiplied by ``m``, so highlights keep
    their exposure in the stylized colour; negative plate values are clipped to 0. Integer
    formats hold sRGB code values clipped to [0, 1]. Premultiplied plates are written
    premultiplied (stylized straight RGB × alpha), and so is every EXR (the OpenEXR
    convention), see :func:`output_premultiplied`; the alpha channel is the plate's,
    bit-exact when the output has the plate's pixel type and size.
    """
    fmt = options.output_format
    dtype = _DTYPES[fmt]
    size_hw = stylized.shape[:2]
    values = np.clip(np.asarray(stylized, np.float32), 0.0, 1.0)
    alpha = None
    if plate is not None:
        alpha = plate_alpha(plate)
        if alpha is not None:
            alpha = _resized(alpha, size_hw)
    linear_out = fmt == "exr" and not (plate_is_exr and options.input_transfer == "srgb")
    if linear_out:
        values = srgb_to_linear(values)
        if plate is not None and options.input_transfer == "linear":
            straight = _resized(_straight(plate, options.alpha), size_hw)
            values = values * np.maximum(straight.max(axis=2, keepdims=True), 1.0)
    if alpha is not None and output_premultiplied(options):
        values = values * (alpha.astype(np.float32)[:, :, None] / np.float32(_scale(alpha)))
    if dtype == np.float16:
        pixels = values.astype(np.float16)
    else:
        top = float(np.iinfo(dtype).max)
        pixels = np.rint(np.clip(values, 0.0, 1.0) * top).astype(dtype)
    if alpha is not None:
        pixels = np.concatenate([pixels, _convert_alpha(alpha, dtype)[:, :, None]], axis=2)
    return pixels


def output_premultiplied(options: PlateOptions) -> bool:
    """Whether frames with alpha are written premultiplied: as the plate (``options.alpha``),
    and always for EXR (OpenEXR defines its RGB as premultiplied)."""
    return options.output_format == "exr" or options.alpha == "premultiplied"


def write_plate(path: str | os.PathLike[str], pixels: np.ndarray, *, premultiplied: bool = False) -> None:
    """Write :func:`output_pixels` output atomically: EXR for ``.exr``, TIFF (``tifffile``, alpha
    tagged as associated when ``premultiplied``, else unassociated; zlib) for ``.tif``, else by
    extension (PNG).

    Raises
    ------
    OptionError
        EXR cannot be written here (:mod:`vidstyle.exr`).
    OutputError, ResourceError
        The file cannot be written.
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":
        from vidstyle.exr import write_exr

        write_exr(path, pixels)
    elif path.suffix.lower() in (".tif", ".tiff"):
        _write_tiff(path, pixels, premultiplied=premultiplied)
    else:
        save_image(path, pixels)


def _write_tiff(path: Path, pixels: np.ndarray, *, premultiplied: bool) -> None:
    """RGB(A) TIFF with its ExtraSamples tag (readers then know the alpha), atomically."""
    import tifffile

    from flow.io import atomic_path
    from vidstyle.images import output_error

    extra = {}
    if pixels.shape[2] == 4:
        extra["extrasamples"] = ["assocalpha" if premultiplied else "unassalpha"]
    try:
        with atomic_path(path) as tmp:
            tifffile.imwrite(tmp, np.ascontiguousarray(pixels), photometric="rgb", compression="zlib", **extra)
    except OSError as exc:
        raise output_error(path, exc) from exc
