"""Colour coding of flow fields (Middlebury colour wheel, Baker et al. 2011)."""

from __future__ import annotations

import numpy as np

from flow.warp import check_flow

__all__ = ["flow_to_color"]

# Hue segments of the Middlebury colour wheel (Baker et al. 2011, colorcode.cpp):
# red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta, magenta-red.
WHEEL_SEGMENTS = (15, 6, 4, 11, 13, 6)
# Middlebury marks flow with a component above this as unknown (drawn black).
UNKNOWN_FLOW = 1e9


def _color_wheel() -> np.ndarray:
    """``(55, 3)`` float RGB wheel in ``[0, 255]``."""
    colors = []
    ramps = [
        ((255, 0, 0), (255, 255, 0)),
        ((255, 255, 0), (0, 255, 0)),
        ((0, 255, 0), (0, 255, 255)),
        ((0, 255, 255), (0, 0, 255)),
        ((0, 0, 255), (255, 0, 255)),
        ((255, 0, 255), (255, 0, 0)),
    ]
    for count, (start, end) in zip(WHEEL_SEGMENTS, ramps, strict=True):
        t = np.arange(count, dtype=np.float64)[:, None] / count
        colors.append(np.array(start) * (1 - t) + np.array(end) * t)
    return np.concatenate(colors)


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Render a flow field as an RGB image with the Middlebury colour wheel.

    Hue is the direction of motion, saturation its magnitude relative to
    ``max_magnitude``; zero motion is white, unknown (NaN or > 1e9) flow black.

    Parameters
    ----------
    flow : np.ndarray
        ``(H, W, 2)`` flow in pixels, channel 0 = x (any direction).
    max_magnitude : float, optional
        Magnitude drawn fully saturated; default the largest finite magnitude in
        ``flow``. Larger magnitudes are darkened as in Middlebury's code.

    Returns
    -------
    np.ndarray
        ``(H, W, 3)`` uint8 RGB.
    """
    flow = check_flow(flow).astype(np.float64)
    u, v = flow[:, :, 0], flow[:, :, 1]
    unknown = ~np.isfinite(u) | ~np.isfinite(v) | (np.abs(u) > UNKNOWN_FLOW) | (np.abs(v) > UNKNOWN_FLOW)
    u = np.where(unknown, 0.0, u)
    v = np.where(unknown, 0.0, v)
    magnitude = np.hypot(u, v)
    if max_magnitude is None:
        max_magnitude = float(magnitude.max()) if magnitude.size else 0.0
    scale = max(float(max_magnitude), np.finfo(np.float64).eps)
    u, v, radius = u / scale, v / scale, magnitude / scale

    wheel = _color_wheel()
    n_colors = wheel.shape[0]
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    position = (angle + 1.0) / 2.0 * (n_colors - 1)
    index0 = np.floor(position).astype(np.intp)
    index1 = (index0 + 1) % n_colors
    frac = (position - index0)[..., None]
    color = ((1 - frac) * wheel[index0] + frac * wheel[index1]) / 255.0
    inside = (radius <= 1)[..., None]
    saturated = 1 - radius[..., None] * (1 - color)
    color = np.where(inside, saturated, color * 0.75)
    color[unknown] = 0.0
    return np.clip(np.rint(color * 255.0), 0, 255).astype(np.uint8)
