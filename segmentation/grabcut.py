"""Foreground/background label maps from a rectangle with GrabCut.

GrabCut (Rother, Kolmogorov, Blake [1]_) fits colour GMMs to the inside and outside of
a user rectangle and separates them with an iterated graph cut; OpenCV implements it.

References
----------
.. [1] C. Rother, V. Kolmogorov, A. Blake, "GrabCut: Interactive Foreground Extraction
       using Iterated Graph Cuts", ACM SIGGRAPH 2004. :DOI:`10.1145/1015706.1015720`
"""

from __future__ import annotations

import cv2
import numpy as np

from segmentation.errors import SegmentationError

__all__ = ["BACKGROUND", "FOREGROUND", "grabcut"]

#: Labels of the returned map.
BACKGROUND = 0
FOREGROUND = 1
#: Default number of GMM/graph-cut iterations (OpenCV sample uses 5).
DEFAULT_ITERATIONS = 5


def _to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise SegmentationError(
            f"image must be RGB of shape (H, W, 3); got shape {image.shape}."
        )
    if np.issubdtype(image.dtype, np.floating):
        if not np.all(np.isfinite(image)):
            raise SegmentationError("image contains NaN or infinite values.")
        image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise SegmentationError(
            f"image must be uint8 or float in [0, 1]; got dtype {image.dtype}."
        )
    return np.ascontiguousarray(image[..., ::-1])


def _check_rect(rect: tuple[int, int, int, int], height: int, width: int) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in rect)
    except (TypeError, ValueError):
        raise SegmentationError(f"rect must be four integers (x, y, w, h); got {rect!r}.") from None
    if len(values) != 4 or any(float(a) != b for a, b in zip(rect, values, strict=False)):
        raise SegmentationError(f"rect must be four integers (x, y, w, h); got {rect!r}.")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise SegmentationError(f"rect {values} is empty; give a positive width and height.")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise SegmentationError(
            f"rect (x={x}, y={y}, w={w}, h={h}) leaves the {width}x{height} image; "
            "keep it inside 0 <= x, x + w <= width, 0 <= y, y + h <= height."
        )
    if w == width and h == height:
        raise SegmentationError(
            "rect covers the whole image, so GrabCut has no background to learn from; "
            "draw it tighter around the foreground."
        )
    return values


def grabcut(
    image: np.ndarray,
    rect: tuple[int, int, int, int],
    *,
    iterations: int = DEFAULT_ITERATIONS,
    seed: int = 0,
) -> np.ndarray:
    """Segment the object inside ``rect`` from the background.

    Parameters
    ----------
    image : (H, W, 3) ndarray
        RGB image, uint8 or float in [0, 1].
    rect : (x, y, w, h)
        Pixel rectangle around the foreground (x = column of its left edge, y = row
        of its top edge); everything outside it is background.
    iterations : int, optional
        GrabCut iterations (default 5).
    seed : int, optional
        Seed of the k-means initialization of the colour GMMs. OpenCV draws it from its
        global RNG, so this call re-seeds that RNG (``cv2.setRNGSeed``) to make the
        result reproducible.

    Returns
    -------
    (H, W) int32 ndarray
        `FOREGROUND` (1) for definite and probable foreground, `BACKGROUND` (0) elsewhere.

    Raises
    ------
    SegmentationError
        Bad image, a rectangle that is empty, leaves the image or covers all of it, or
        ``iterations`` < 1.
    """
    bgr = _to_bgr_uint8(image)
    height, width = bgr.shape[:2]
    rect = _check_rect(rect, height, width)
    if isinstance(iterations, bool) or int(iterations) != iterations or iterations < 1:
        raise SegmentationError(f"iterations must be an integer >= 1; got {iterations!r}.")
    mask = np.zeros((height, width), dtype=np.uint8)
    background_model = np.zeros((1, 65), dtype=np.float64)  # OpenCV GMM buffers
    foreground_model = np.zeros((1, 65), dtype=np.float64)
    cv2.setRNGSeed(int(seed))
    mask, _, _ = cv2.grabCut(
        bgr, mask, rect, background_model, foreground_model, int(iterations),
        cv2.GC_INIT_WITH_RECT,
    )
    foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return np.where(foreground, FOREGROUND, BACKGROUND).astype(np.int32)
