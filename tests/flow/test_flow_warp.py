"""Backward warping: exactness on integer shifts, ground-truth flow reproduces frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from flow.errors import FlowError
from flow.warp import warp


def test_integer_shift_float64_exact():
    rng = np.random.default_rng(0)
    image = rng.random((20, 24, 3))
    flow = np.zeros((20, 24, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0  # out(y, x) = image(y - 2, x + 3)
    warped, valid = warp(image, flow)
    assert warped.dtype == np.float64 and warped.shape == image.shape
    expected_valid = np.zeros((20, 24), bool)
    expected_valid[2:, :21] = True
    assert np.array_equal(valid, expected_valid)
    assert np.array_equal(warped[2:, :21], image[:18, 3:])


def test_ground_truth_flow_reproduces_previous_frame_exactly(integer_clip):
    # first(x) = second(x + w(x)) for the forward flow w: warp the second frame by it.
    first, second = integer_clip.frames
    warped, valid = warp(second, integer_clip.flow(0, 1))
    usable = valid & ~integer_clip.occluded(0, 1)
    assert usable.mean() > 0.6
    assert warped.dtype == np.float32
    assert np.array_equal(warped[usable], first[usable].astype(np.float32))


def test_ground_truth_flow_reproduces_frame_subpixel(small_clip):
    first, second = small_clip.frames[:2]
    warped, valid = warp(second, small_clip.flow(0, 1))
    usable = valid & ~small_clip.occluded(0, 1)
    error = np.abs(warped - first.astype(np.float32))[usable]
    assert error.mean() < 3.0  # 0..255 scale; re-interpolation blur only
    identity, _ = warp(first, np.zeros((*first.shape[:2], 2), np.float32))
    assert np.array_equal(identity, first.astype(np.float32))


@pytest.mark.parametrize("shape", [(10, 12), (10, 12, 1), (10, 12, 4), (10, 12, 7)])
def test_channel_counts(shape):
    image = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    flow = np.full((10, 12, 2), 1.0, np.float32)
    warped, valid = warp(image, flow)
    assert warped.shape == shape and warped.dtype == np.float32
    assert np.array_equal(warped[:-1, :-1], image[1:, 1:].astype(np.float32))
    assert valid[:-1, :-1].all() and not valid[-1].any() and not valid[:, -1].any()


def test_nan_flow_is_invalid():
    flow = np.zeros((6, 6, 2), np.float32)
    flow[2, 3] = np.nan
    _, valid = warp(np.ones((6, 6)), flow)
    assert not valid[2, 3] and valid.sum() == 35


def test_bad_shapes():
    with pytest.raises(FlowError, match="cannot warp"):
        warp(np.zeros((5, 6)), np.zeros((5, 7, 2), np.float32))
    with pytest.raises(FlowError, match=r"\(H, W, 2\)"):
        warp(np.zeros((5, 6)), np.zeros((5, 6, 3), np.float32))


def _texture(size: int = 48) -> np.ndarray:
    """Fine random texture (detail up to near the Nyquist frequency), values in [0, 1]."""
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 0.6)


def _gradient_energy(image: np.ndarray) -> float:
    inner = image[8:-8, 8:-8]  # away from the replicated border
    return float(np.abs(np.diff(inner, axis=0)).mean() + np.abs(np.diff(inner, axis=1)).mean())


def _repeated_subpixel_warps(image: np.ndarray, interpolation: str, count: int = 10) -> np.ndarray:
    rng = np.random.default_rng(1)
    for _ in range(count):
        flow = np.zeros((*image.shape[:2], 2), np.float32)
        flow[..., 0], flow[..., 1] = rng.uniform(-0.5, 0.5, 2)
        image, _ = warp(image, flow, interpolation=interpolation)
    return image


def test_repeated_subpixel_warps_keep_detail_with_cubic():
    # The video pipeline warps every result into the next frame: bilinear's blur
    # compounds (10 random sub-pixel shifts leave ~19 % of the gradient energy),
    # the cubic kernel keeps most of it (~74 %; nearest copies pixels, 100 %).
    texture = _texture()
    before = _gradient_energy(texture)
    linear = _gradient_energy(_repeated_subpixel_warps(texture, "linear")) / before
    cubic = _gradient_energy(_repeated_subpixel_warps(texture, "cubic")) / before
    lanczos = _gradient_energy(_repeated_subpixel_warps(texture, "lanczos4")) / before
    assert linear < 0.3
    assert cubic > 0.65 and lanczos > 0.65


@pytest.mark.parametrize("interpolation", ["cubic", "lanczos4", "nearest"])
def test_other_kernels_exact_on_integer_shifts(interpolation):
    image = _texture(24)
    flow = np.zeros((24, 24, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0
    warped, valid = warp(image, flow, interpolation=interpolation)  # out(y, x) = image(y - 1, x + 2)
    assert valid[1:, :22].all() and valid.sum() == 23 * 22
    assert np.allclose(warped[1:, :22], image[:-1, 2:], atol=1e-6)
    identity, _ = warp(image, np.zeros_like(flow), interpolation=interpolation)
    assert np.allclose(identity, image, atol=1e-6)


def test_unknown_interpolation():
    with pytest.raises(FlowError, match="unknown interpolation"):
        warp(np.zeros((5, 6)), np.zeros((5, 6, 2), np.float32), interpolation="area")
