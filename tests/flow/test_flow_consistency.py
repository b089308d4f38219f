"""Consistency check: matches a per-pixel port of consistencyChecker.cpp, finds occlusions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flow.backends import estimate_flow
from flow.consistency import reliability
from flow.errors import FlowError


def reference_reliability(w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Loop-for-loop port of artistic-videos' consistencyChecker.cpp (test oracle)."""
    height, width = w1.shape[:2]

    def mirror(k: int, n: int) -> int:  # CFilter border: abc|cba
        return -1 - k if k < 0 else (2 * n - 1 - k if k >= n else k)

    edge = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            for c in range(2):
                dx = 0.5 * (w1[y, mirror(x + 1, width), c] - w1[y, mirror(x - 1, width), c])
                dy = 0.5 * (w1[mirror(y + 1, height), x, c] - w1[mirror(y - 1, height), x, c])
                edge[y, x] += dx * dx + dy * dy
    raw = np.ones((height, width))
    for y in range(height):
        for x in range(width):
            bx, by = x + w1[y, x, 0], y + w1[y, x, 1]
            x1, y1 = math.floor(bx), math.floor(by)
            if x1 < 0 or x1 + 1 >= width or y1 < 0 or y1 + 1 >= height:
                raw[y, x] = 0.0
                continue
            ax, ay = bx - x1, by - y1
            u, v = (
                (1 - ay) * ((1 - ax) * w2[y1, x1, c] + ax * w2[y1, x1 + 1, c])
                + ay * ((1 - ax) * w2[y1 + 1, x1, c] + ax * w2[y1 + 1, x1 + 1, c])
                for c in range(2)
            )
            u2, v2 = w1[y, x]
            if (bx + u - x) ** 2 + (by + v - y) ** 2 >= 0.01 * (u2**2 + v2**2 + u**2 + v**2) + 0.5:
                raw[y, x] = -1.0
            elif edge[y, x] > 0.01 * (u2**2 + v2**2) + 0.002:
                raw[y, x] = 0.0
    taps = np.exp(-np.arange(-2, 3) ** 2 / (2 * 0.8**2))
    taps /= taps.sum()
    rows = np.zeros_like(raw)
    for y in range(height):
        for x in range(width):
            rows[y, x] = sum(taps[k + 2] * raw[y, mirror(x + k, width)] for k in range(-2, 3))
    out = np.zeros_like(raw)
    for y in range(height):
        for x in range(width):
            out[y, x] = sum(taps[k + 2] * rows[mirror(y + k, height), x] for k in range(-2, 3))
    return np.clip(out, 0, 1)


def test_matches_reference_port():
    rng = np.random.default_rng(3)
    ys, xs = np.mgrid[0:18, 0:21].astype(np.float32)
    w1 = np.stack([1.3 + 0.04 * xs, -0.6 + 0.03 * ys], axis=-1)  # smooth zoom-like field
    w1[4:9, 5:11] += np.float32([2.5, -1.0])  # a moving block: motion boundaries
    w1 += rng.normal(0.0, 0.02, w1.shape).astype(np.float32)
    w2 = -w1 + rng.normal(0.0, 0.1, w1.shape).astype(np.float32)
    w2[11:15, 3:8] = 4.0  # inconsistent patch: disocclusions
    expected = reference_reliability(w1.astype(np.float64), w2.astype(np.float64))
    assert (expected > 0.99).mean() > 0.2 and (expected < 0.01).mean() > 0.1
    np.testing.assert_allclose(reliability(w1, w2), expected, atol=1e-6)


def test_zero_flow_interior_reliable():
    zero = np.zeros((12, 16, 2), np.float32)
    c = reliability(zero, zero)
    assert c.dtype == np.float32 and c.shape == (12, 16)
    assert np.all(c[:-3, :-3] == 1.0)
    # The last row/column has no 2x2 bilinear support (as consistencyChecker.cpp).
    assert np.all(c[:, -1] < 0.5) and np.all(c[-1] < 0.5)


def occluder_bands(clip, a, b, margin=3):
    """Eroded occluded region and the visible region away from every edge."""
    from scipy.ndimage import binary_dilation, binary_erosion

    occluded = clip.occluded(a, b)
    occluder = clip.occluder_mask(a)
    edges = binary_dilation(occluded | occluder, iterations=margin) & ~binary_erosion(
        occluded | occluder, iterations=margin
    )
    inner = np.zeros_like(occluded)
    inner[margin:-margin, margin:-margin] = True
    band = binary_erosion(occluded, iterations=2) & inner
    rest = ~binary_dilation(occluded | occluder, iterations=margin) & ~edges & inner
    return band, rest


def test_ground_truth_marks_occluded_band_only(small_clip):
    backward, forward = small_clip.flow(1, 0), small_clip.flow(0, 1)
    c = reliability(backward, forward)  # on frame 1's grid
    band, rest = occluder_bands(small_clip, 1, 0)
    assert band.sum() > 20 and rest.sum() > 2000
    assert c[band].max() < 0.05
    assert c[rest].mean() > 0.98


def test_estimated_flow_marks_occluded_band(small_clip):
    first, second = small_clip.frames[:2]
    forward = estimate_flow(first, second, method="dis")
    backward = estimate_flow(second, first, method="dis")
    c = reliability(backward, forward)
    band, rest = occluder_bands(small_clip, 1, 0)
    assert c[band].mean() < 0.3
    assert c[rest].mean() > 0.8


def test_mismatched_flows():
    with pytest.raises(FlowError, match="same size"):
        reliability(np.zeros((4, 5, 2), np.float32), np.zeros((5, 4, 2), np.float32))
