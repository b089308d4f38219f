"""Forward-backward consistency check: per-pixel flow reliability (Ruder et al. 2016).

A vectorized port of ``consistencyChecker`` from artistic-videos (Ruder, Dosovitskiy,
Brox 2016), whose thresholds come from Sundaram et al. 2010 (Ruder et al. 2016, eqs. 5-6).
"""

from __future__ import annotations

import cv2
import numpy as np

from flow.errors import FlowError
from flow.warp import check_flow

__all__ = [
    "DISOCCLUSION_OFFSET",
    "DISOCCLUSION_SCALE",
    "MOTION_EDGE_OFFSET",
    "MOTION_EDGE_SCALE",
    "SMOOTH_SIGMA",
    "reliability",
]

# Ruder et al. 2016, eq. 5 (from Sundaram et al. 2010): disoccluded where
# |w1 + w2~|^2 >= DISOCCLUSION_SCALE * (|w1|^2 + |w2~|^2) + DISOCCLUSION_OFFSET.
DISOCCLUSION_SCALE = 0.01
DISOCCLUSION_OFFSET = 0.5
# Disoccluded pixels get this value before smoothing so that the Gaussian grows the hole
# instead of filling it (consistencyChecker.cpp: -255 on a 0..255 scale).
DISOCCLUDED_VALUE = -1.0
# Ruder et al. 2016, eq. 6: motion boundary where
# |grad u|^2 + |grad v|^2 > MOTION_EDGE_SCALE * |w1|^2 + MOTION_EDGE_OFFSET.
MOTION_EDGE_SCALE = 0.01
MOTION_EDGE_OFFSET = 0.002
# consistencyChecker.cpp: motion boundaries get 0 (MOTION_BOUNDARIE_VALUE).
MOTION_EDGE_VALUE = 0.0
# Central differences, CDerivative<float>(3) = [-0.5, 0, 0.5] in consistencyChecker.cpp.
CENTRAL_DIFFERENCE = np.array([-0.5, 0.0, 0.5], dtype=np.float64)
# Final smoothing: CSmooth(SMOOTH_STRENGH = 0.8, precision 2.0), i.e. a normalized
# Gaussian with sigma 0.8 and 2 * ceil(2.0 * 0.8) + 1 = 5 taps, applied separably.
SMOOTH_SIGMA = 0.8
SMOOTH_PRECISION = 2.0
# Brox's CFilter mirrors the border symmetrically (abc|cba), i.e. cv2.BORDER_REFLECT.
BORDER = cv2.BORDER_REFLECT


def _gaussian_taps(sigma: float, precision: float) -> np.ndarray:
    radius = int(np.ceil(precision * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return taps / taps.sum()


SMOOTH_TAPS = _gaussian_taps(SMOOTH_SIGMA, SMOOTH_PRECISION)


def _bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample ``field`` (H, W, C) at float positions whose 2x2 support is inside."""
    x0 = np.floor(x).astype(np.intp)
    y0 = np.floor(y).astype(np.intp)
    ax = (x - x0)[..., None]
    ay = (y - y0)[..., None]
    top = (1.0 - ax) * field[y0, x0] + ax * field[y0, x0 + 1]
    bottom = (1.0 - ax) * field[y0 + 1, x0] + ax * field[y0 + 1, x0 + 1]
    return (1.0 - ay) * top + ay * bottom


def reliability(flow: np.ndarray, opposite: np.ndarray) -> np.ndarray:
    """Per-pixel reliability ``c`` of ``flow`` checked against the ``opposite`` flow.

    For the backward flow ``w1 = j -> i`` (on frame ``j``'s grid) pass the forward flow
    ``w2 = i -> j`` as ``opposite``: the result is ``c^(i,j)`` of Ruder et al. 2016, eq.
    7, the weight of the temporal loss of frame ``j`` (file ``reliable_{j}_{i}.pgm``).

    Steps, per pixel ``x`` of ``flow``'s grid (as ``consistencyChecker.cpp``):

    1. ``c = 1``; ``c = 0`` if ``x + w1(x)`` leaves the bilinear support of the frame
       (``floor(x') < 0`` or ``floor(x') + 1 >= W``, same for y).
    2. ``w2~ = w2(x + w1(x))`` bilinearly. Disoccluded if
       ``|w1 + w2~|^2 >= 0.01 (|w1|^2 + |w2~|^2) + 0.5``: ``c = -1`` (negative so the
       smoothing grows the hole).
    3. Otherwise motion boundary if ``|grad u|^2 + |grad v|^2 > 0.01 |w1|^2 + 0.002``
       (central differences ``[-0.5, 0, 0.5]``, symmetric border): ``c = 0``.
    4. Separable Gaussian, sigma 0.8, 5 taps, symmetric border; clip to ``[0, 1]``.

    Parameters
    ----------
    flow : np.ndarray
        ``(H, W, 2)`` flow ``w1`` in pixels (channel 0 = x) from frame ``a`` to ``b``, on
        ``a``'s grid.
    opposite : np.ndarray
        ``(H, W, 2)`` flow ``w2`` from ``b`` back to ``a``, on ``b``'s grid.

    Returns
    -------
    np.ndarray
        ``(H, W)`` float32 in ``[0, 1]`` on ``a``'s grid; 1 = trust the flow.

    Raises
    ------
    FlowError
        Bad shapes, or flows of different sizes.
    """
    w1 = check_flow(flow, "flow").astype(np.float64)
    w2 = check_flow(opposite, "opposite flow").astype(np.float64)
    if w1.shape != w2.shape:
        raise FlowError(
            f"a flow {w1.shape} and its opposite flow {w2.shape} must have the same size; "
            "compute both directions on the same frames"
        )
    height, width = w1.shape[:2]
    target_x = np.arange(width, dtype=np.float64)[None, :] + w1[:, :, 0]
    target_y = np.arange(height, dtype=np.float64)[:, None] + w1[:, :, 1]
    finite = np.isfinite(target_x) & np.isfinite(target_y)
    floor_x = np.floor(np.where(finite, target_x, -1.0))
    floor_y = np.floor(np.where(finite, target_y, -1.0))
    inside = (floor_x >= 0) & (floor_x + 1 < width) & (floor_y >= 0) & (floor_y + 1 < height)

    back = np.zeros_like(w1)
    back[inside] = _bilinear(w2, target_x[inside], target_y[inside])
    norm_w1 = np.sum(w1**2, axis=2)
    round_trip = np.sum((w1 + back) ** 2, axis=2)
    disoccluded = round_trip >= DISOCCLUSION_SCALE * (norm_w1 + np.sum(back**2, axis=2)) + (
        DISOCCLUSION_OFFSET
    )

    identity = np.array([0.0, 1.0, 0.0])
    motion_edge = np.zeros((height, width), dtype=np.float64)
    for channel in range(2):
        component = np.ascontiguousarray(w1[:, :, channel])
        d_x = cv2.sepFilter2D(component, cv2.CV_64F, CENTRAL_DIFFERENCE, identity, borderType=BORDER)
        d_y = cv2.sepFilter2D(component, cv2.CV_64F, identity, CENTRAL_DIFFERENCE, borderType=BORDER)
        motion_edge += d_x**2 + d_y**2
    boundary = motion_edge > MOTION_EDGE_SCALE * norm_w1 + MOTION_EDGE_OFFSET

    raw = np.ones((height, width), dtype=np.float64)
    raw[inside & ~disoccluded & boundary] = MOTION_EDGE_VALUE
    raw[inside & disoccluded] = DISOCCLUDED_VALUE
    raw[~inside] = 0.0
    smoothed = cv2.sepFilter2D(raw, cv2.CV_64F, SMOOTH_TAPS, SMOOTH_TAPS, borderType=BORDER)
    return np.clip(smoothed, 0.0, 1.0).astype(np.float32)
