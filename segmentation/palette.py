"""Colour-coded label masks in the Deep Photo Style Transfer palette.

Luan et al. [1]_ paint semantic masks with a fixed set of pure colours; each colour is one
label, and the same colour in the content and the style mask ties the two regions
together. Label ``k`` of a label map is ``list(PALETTE)[k]``.

References
----------
.. [1] F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017.
       :DOI:`10.1109/CVPR.2017.740`
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage as ndi

from flow.io import atomic_path
from segmentation.errors import SegmentationError

__all__ = [
    "PALETTE",
    "PALETTE_NAMES",
    "classify_colours",
    "labels_to_masks",
    "labels_to_rgb",
    "read_mask",
    "write_mask",
]

logger = logging.getLogger(__name__)

#: DPST mask colours, in label order (RGB, 0–255).
PALETTE: dict[str, tuple[int, int, int]] = {
    "blue": (0, 0, 255),
    "green": (0, 255, 0),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "grey": (128, 128, 128),
    "light_blue": (0, 255, 255),
    "purple": (255, 0, 255),
}
PALETTE_NAMES: tuple[str, ...] = tuple(PALETTE)
_PALETTE_RGB = np.array(list(PALETTE.values()), dtype=np.float64) / 255.0  # (K, 3)
GREY = PALETTE_NAMES.index("grey")

#: A channel counts as 0 below this value and as 1 above 1 − it (DPST, values in [0, 1]).
CHANNEL_LOW = 0.1
CHANNEL_HIGH = 0.9
#: Grey: every channel within [GREY_LOW, GREY_HIGH].
GREY_LOW = 0.4
GREY_HIGH = 0.6
#: Largest fraction of pixels matching no palette colour that is tolerated. The masks
#: shipped with DPST are anti-aliased and hand-painted: 0–3.1 % of their pixels (edge
#: blends, a few off-shade strokes) match no colour under the thresholds above, so the
#: 0.5 % one might expect would reject most of them. Above 5 % the mask was almost
#: certainly painted with a wrong colour.
MAX_UNMATCHED_FRACTION = 0.05
#: An unmatched pixel within this RGB distance (values in [0, 1]) of a palette colour is
#: an off-shade of it (e.g. (228, 17, 25) is red); farther ones are edge blends and take
#: the label of the spatially nearest matched pixel.
SNAP_DISTANCE = 0.25
#: Side of the square that a label must fill somewhere to count as a region; labels that
#: occur only in thinner strokes (e.g. grey where black meets white, an anti-aliasing
#: blend) are reassigned to their spatial neighbours.
MIN_REGION_SIDE = 5
#: Relative aspect-ratio difference up to which a mask of another size is resized.
ASPECT_TOLERANCE = 0.01


def classify_colours(rgb: np.ndarray) -> np.ndarray:
    """Label each pixel by the DPST thresholds; −1 where no palette colour matches.

    Parameters
    ----------
    rgb : (H, W, 3) float ndarray
        Colours in [0, 1].

    Returns
    -------
    (H, W) int32 ndarray
        Index into `PALETTE`, or −1.
    """
    low = rgb < CHANNEL_LOW
    high = rgb > CHANNEL_HIGH
    labels = np.full(rgb.shape[:2], -1, dtype=np.int32)
    for k, colour in enumerate(_PALETTE_RGB):
        if k == GREY:
            match = np.all((rgb >= GREY_LOW) & (rgb <= GREY_HIGH), axis=-1)
        else:
            match = np.all(np.where(colour > 0.5, high, low), axis=-1)
        labels[match & (labels < 0)] = k
    return labels


def _fill_from_nearest(labels: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Give every ``holes`` pixel the label of the nearest non-hole pixel (Euclidean)."""
    if not holes.any() or holes.all():
        return labels
    _, (iy, ix) = ndi.distance_transform_edt(holes, return_indices=True)
    return labels[iy, ix]


def _resolve_unmatched(rgb: np.ndarray, labels: np.ndarray, where: str) -> np.ndarray:
    """Assign unmatched (−1) pixels and drop stroke-only labels; see `read_mask`."""
    unmatched = labels < 0
    count = int(unmatched.sum())
    if count > MAX_UNMATCHED_FRACTION * labels.size:
        colours, counts = np.unique(
            np.round(rgb[unmatched] * 255).astype(np.int64), axis=0, return_counts=True
        )
        top = colours[np.argmax(counts)]
        raise SegmentationError(
            f"{where}: {count} pixels ({100 * count / labels.size:.1f} %) match no mask "
            f"colour; the most common is RGB {tuple(int(v) for v in top)} "
            f"({int(counts.max())} pixels). Repaint those regions with one of: "
            + ", ".join(f"{n} {c}" for n, c in PALETTE.items())
        )
    if count:
        distance = np.linalg.norm(rgb[unmatched][:, None, :] - _PALETTE_RGB[None], axis=-1)
        nearest = np.argmin(distance, axis=1)
        snapped = np.where(distance.min(axis=1) <= SNAP_DISTANCE, nearest, -1)
        labels = labels.copy()
        labels[unmatched] = snapped
        labels = _fill_from_nearest(labels, labels < 0)
        logger.debug("%s: %d unmatched pixels assigned", where, count)
    # Labels that never fill a MIN_REGION_SIDE² square are edge blends, not regions.
    square = np.ones((MIN_REGION_SIDE, MIN_REGION_SIDE), dtype=bool)
    strokes = np.zeros(labels.shape, dtype=bool)
    for k in np.unique(labels):
        region = labels == k
        if not ndi.binary_erosion(region, square).any():
            strokes |= region
    if strokes.any() and not strokes.all():
        labels = _fill_from_nearest(labels, strokes)
    return labels


def _read_rgb(path: Path) -> np.ndarray:
    """Read an image file as (H, W, 3) float64 RGB in [0, 1]."""
    if not path.is_file():
        raise SegmentationError(f"mask file {path} does not exist; check the path.")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        raise SegmentationError(
            f"cannot decode mask file {path}; save it again as PNG in the mask colours."
        )
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0
    if raw.ndim == 2:
        raw = np.repeat(raw[..., None], 3, axis=-1)
    elif raw.shape[2] == 4:
        raw = raw[..., :3]  # alpha is not part of the mask
    elif raw.shape[2] == 1:
        raw = np.repeat(raw, 3, axis=-1)
    return raw[..., ::-1].astype(np.float64) / scale  # OpenCV reads BGR


def _resize_labels(labels: np.ndarray, size: tuple[int, int], where: str) -> np.ndarray:
    h, w = labels.shape
    th, tw = size
    if (h, w) == (th, tw):
        return labels
    if th <= 0 or tw <= 0:
        raise SegmentationError(f"size must be positive (height, width); got {size}.")
    if abs((w / h) / (tw / th) - 1.0) > ASPECT_TOLERANCE:
        raise SegmentationError(
            f"{where} is {w}x{h} (WxH) but its image is {tw}x{th}: the aspect ratios differ "
            f"by more than {100 * ASPECT_TOLERANCE:g} %. Paint the mask on the image itself "
            "(same size, or the same shape at another scale)."
        )
    return cv2.resize(labels.astype(np.uint8), (tw, th), interpolation=cv2.INTER_NEAREST)


def read_mask(path: str | os.PathLike, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a colour-coded mask file into a label map.

    Parameters
    ----------
    path : str or path-like
        PNG (or any format OpenCV reads; grey, RGB or RGBA, 8 or 16 bit) in the DPST
        colours of `PALETTE`.
    size : (height, width), optional
        Size of the image the mask belongs to. A mask of the same aspect ratio
        (within 1 %) at another scale is resized with nearest-neighbour interpolation.

    Returns
    -------
    (H, W) int32 ndarray
        Label map: index into `PALETTE` (0 = blue, 1 = green, 2 = black, …).

    Raises
    ------
    SegmentationError
        The file is missing or unreadable; more than `MAX_UNMATCHED_FRACTION` of its
        pixels match no palette colour (the message names the most common such colour
        and its count); or its shape does not fit ``size``.

    Notes
    -----
    A channel is 0 below 0.1 and 1 above 0.9 (grey: every channel in 0.4–0.6), as in
    DPST. Anti-aliased and hand-painted masks contain a few pixels that match nothing;
    up to 5 % of them are tolerated and resolved as follows:

    1. an unmatched colour within RGB distance `SNAP_DISTANCE` of a palette colour is
       that colour (an off-shade stroke);
    2. other unmatched pixels (edge blends) take the label of the spatially nearest
       matched pixel;
    3. a label that fills no 5×5 square anywhere (only thin strokes, typically the grey
       blend between black and white regions) is treated as an edge blend too.
    """
    path = Path(path)
    rgb = _read_rgb(path)
    labels = _resolve_unmatched(rgb, classify_colours(rgb), str(path))
    if size is not None:
        labels = _resize_labels(labels, (int(size[0]), int(size[1])), str(path))
    return labels.astype(np.int32)


def labels_to_rgb(labels: np.ndarray) -> np.ndarray:
    """Colour a label map: (H, W) int in [0, len(PALETTE)) → (H, W, 3) uint8 RGB."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise SegmentationError(
            f"labels must be a 2-D integer array; got shape {labels.shape}, dtype {labels.dtype}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(PALETTE)):
        raise SegmentationError(
            f"labels must lie in [0, {len(PALETTE) - 1}] to be written in the mask palette; "
            f"got [{labels.min()}, {labels.max()}]. Merge regions to at most {len(PALETTE)}."
        )
    return np.array(list(PALETTE.values()), dtype=np.uint8)[labels]


def write_mask(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write a label map as a colour-coded PNG, atomically (temporary file + rename).

    Parameters
    ----------
    path : str or path-like
        Destination, normally ending in ``.png``; its folder must exist.
    labels : (H, W) int ndarray
        Index into `PALETTE`, as returned by `read_mask`.
    """
    path = Path(path)
    rgb = labels_to_rgb(labels)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:  # pragma: no cover - PNG encoding of uint8 RGB does not fail
        raise SegmentationError(f"could not encode mask for {path}.")
    if not path.parent.is_dir():
        raise SegmentationError(f"folder {path.parent} does not exist; create it first.")
    # Mode 0o666 & ~umask (not mkstemp's 0600); leftovers of killed runs are swept.
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(encoded.tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def labels_to_masks(
    content_labels: np.ndarray, style_labels: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], list[int]]:
    """Per-label float masks M_k for the augmented style loss (Luan et al. 2017, eq. 3).

    Parameters
    ----------
    content_labels : (H, W) int ndarray
        Label map of the content image.
    style_labels : (H', W') int ndarray
        Label map of the style image (any size).

    Returns
    -------
    content_masks : list of (H, W) float32 ndarray
        1 inside label k, 0 elsewhere; one per label present in the content.
    style_masks : list of (H', W') float32 ndarray
        The matching style masks.
    labels : list of int
        The label k of each pair, ascending.

    Notes
    -----
    Only labels present in the content get a pair (a style-only label has no content
    pixels to be stylized by it and is dropped). A content label absent from the style
    falls back to the whole style image (a mask of ones), so its pixels get the global
    style rather than a division by an empty mask (NaN); this is logged as a warning.
    """
    content_labels = np.asarray(content_labels)
    style_labels = np.asarray(style_labels)
    for name, arr in (("content_labels", content_labels), ("style_labels", style_labels)):
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer) or arr.size == 0:
            raise SegmentationError(
                f"{name} must be a non-empty 2-D integer label map; got shape {arr.shape}, "
                f"dtype {arr.dtype}."
            )
    style_present = set(np.unique(style_labels).tolist())
    content_masks, style_masks, labels = [], [], []
    for k in np.unique(content_labels).tolist():
        content_masks.append((content_labels == k).astype(np.float32))
        if k in style_present:
            style_masks.append((style_labels == k).astype(np.float32))
        else:
            logger.warning(
                "label %d is in the content mask but not in the style mask; "
                "those content pixels use the whole style image", k,
            )
            style_masks.append(np.ones(style_labels.shape, dtype=np.float32))
        labels.append(int(k))
    dropped = sorted(style_present - set(labels))
    if dropped:
        logger.info("style-only labels %s have no content pixels and are ignored", dropped)
    return content_masks, style_masks, labels
