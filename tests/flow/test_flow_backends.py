"""Backends: accuracy on known motion, input handling, clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from flow.backends import METHODS, estimate_flow, to_gray8
from flow.errors import FlowError

# Mean end-point error (pixels) on non-occluded pixels of the small-motion clip; about
# 1.5x what each backend reaches (measured: deepflow 0.53, dis 0.40, farneback 0.50,
# tvl1 0.16).
MAX_EPE = {"deepflow": 0.8, "dis": 0.7, "farneback": 0.8, "tvl1": 0.3}


def mean_epe(estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth, axis=2)[mask].mean())


@pytest.mark.parametrize("method", METHODS)
def test_known_motion_end_point_error(small_clip, method):
    flow = estimate_flow(small_clip.frames[0], small_clip.frames[1], method=method)
    assert flow.shape == (*small_clip.shape, 2) and flow.dtype == np.float32
    visible = ~small_clip.occluded(0, 1)
    assert mean_epe(flow, small_clip.flow(0, 1), visible) < MAX_EPE[method]


def test_backward_direction(small_clip):
    flow = estimate_flow(small_clip.frames[1], small_clip.frames[0], method="dis")
    visible = ~small_clip.occluded(1, 0)
    assert mean_epe(flow, small_clip.flow(1, 0), visible) < MAX_EPE["dis"]


@pytest.mark.parametrize("preset", ["ultrafast", "fast", "medium"])
def test_dis_presets(small_clip, preset):
    flow = estimate_flow(small_clip.frames[0], small_clip.frames[1], method="dis", preset=preset)
    assert mean_epe(flow, small_clip.flow(0, 1), ~small_clip.occluded(0, 1)) < 1.0


@pytest.mark.parametrize("method", METHODS)
def test_zero_motion(small_clip, method):
    frame = small_clip.frames[0]
    flow = estimate_flow(frame, frame.copy(), method=method)
    assert float(np.abs(flow).mean()) < 0.05


def test_photoreal_frames(photoreal_clip):
    clip = photoreal_clip
    flow = estimate_flow(clip.frames[0], clip.frames[1], method="dis")
    assert mean_epe(flow, clip.flow(0, 1), ~clip.occluded(0, 1)) < 1.0


def test_any_dtype_and_channels_same_gray():
    rgb = cv2.resize(skimage.data.astronaut(), (40, 32), interpolation=cv2.INTER_AREA)
    gray = to_gray8(rgb)
    assert gray.shape == (32, 40) and gray.dtype == np.uint8
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(to_gray8(rgba), gray)
    assert np.abs(to_gray8(rgb.astype(np.uint16) * 257).astype(int) - gray).max() <= 1
    assert np.abs(to_gray8(rgb / 255.0).astype(int) - gray).max() <= 1
    assert np.abs(to_gray8(rgb.astype(np.float32)).astype(int) - gray).max() <= 1
    assert np.array_equal(to_gray8(gray[:, :, None]), gray)
    assert np.array_equal(to_gray8(gray), gray)


@pytest.mark.parametrize(
    "convert",
    [
        lambda f: f,
        lambda f: cv2.cvtColor(f, cv2.COLOR_RGB2GRAY),
        lambda f: f.astype(np.uint16) * 257,
        lambda f: f.astype(np.float32) / 255.0,
        lambda f: np.dstack([f, np.full(f.shape[:2], 255, np.uint8)]),
    ],
    ids=["rgb8", "gray8", "rgb16", "float01", "rgba8"],
)
def test_frames_of_any_layout(small_clip, convert):
    first, second = (convert(f) for f in small_clip.frames[:2])
    flow = estimate_flow(first, second, method="dis", preset="fast")
    assert flow.shape == (*small_clip.shape, 2)
    assert mean_epe(flow, small_clip.flow(0, 1), ~small_clip.occluded(0, 1)) < 1.0


def test_mismatched_sizes(small_clip):
    with pytest.raises(FlowError, match="differ in size"):
        estimate_flow(small_clip.frames[0], small_clip.frames[1][:-1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "raft"}, "unknown optical flow method"),
        ({"method": "dis", "levels": 3}, "unknown parameter"),
        ({"method": "deepflow", "alpha": 1.0}, "unknown parameter"),
        ({"method": "dis", "preset": "slow"}, "unknown DIS preset"),
    ],
)
def test_bad_options(small_clip, kwargs, message):
    with pytest.raises(FlowError, match=message):
        estimate_flow(small_clip.frames[0], small_clip.frames[1], **kwargs)


def test_bad_frames():
    with pytest.raises(FlowError, match="too small"):
        estimate_flow(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8))
    with pytest.raises(FlowError, match="dtype"):
        estimate_flow(np.zeros((16, 16), bool), np.zeros((16, 16), bool))
    with pytest.raises(FlowError, match="shape"):
        estimate_flow(np.zeros((16, 16, 2), np.uint8), np.zeros((16, 16, 2), np.uint8))
    with pytest.raises(FlowError, match="NaN"):
        estimate_flow(np.full((16, 16), np.nan), np.zeros((16, 16)))
