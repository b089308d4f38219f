"""Tests for segmentation.propagate on a known integer motion."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation import SegmentationError, propagate_labels, warp_labels

COLOURS = np.array([[0.1, 0.2, 0.8], [0.9, 0.8, 0.1], [0.2, 0.9, 0.2]])
DX, DY = 3, 2  # scene motion between frames, pixels


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 44×56 label scene (two halves and a block) and its noisy colour image."""
    labels = np.zeros((44, 56), np.int32)
    labels[:, 28:] = 1
    labels[12:32, 8:18] = 2
    rng = np.random.default_rng(seed)
    image = np.clip(COLOURS[labels] + rng.normal(0, 0.03, (44, 56, 3)), 0, 1)
    return labels, image


def moving_pair():
    """Frame i−1 sees the scene at offset (DY, DX); frame i at the origin."""
    labels, image = scene()
    h, w = 40, 50
    prev = labels[DY:DY + h, DX:DX + w], image[DY:DY + h, DX:DX + w]
    cur = labels[:h, :w], image[:h, :w]
    # frame_i(x) = scene(x) = frame_{i−1}(x − (DX, DY)): backward flow is (−DX, −DY).
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = -DX, -DY
    return prev, cur, flow


def test_warp_labels_integer_shift():
    (prev_labels, _), (cur_labels, _), flow = moving_pair()
    warped, valid = warp_labels(prev_labels, flow)
    assert not valid[:DY].any() and not valid[:, :DX].any() and valid[DY:, DX:].all()
    assert np.array_equal(warped[valid], cur_labels[valid])
    assert np.all(warped[~valid] == -1)


def test_propagation_keeps_labels_on_known_motion():
    (prev_labels, _), (cur_labels, cur_image), flow = moving_pair()
    reliability = np.ones(cur_labels.shape, np.float32)
    reliability[10:14, 20:40] = 0.2  # an unreliable patch inside the frame too
    out = propagate_labels(prev_labels, flow, reliability, cur_image)
    band = np.zeros(cur_labels.shape, bool)
    band[:DY] = band[:, :DX] = True
    band |= reliability < 0.5
    assert np.array_equal(out[~band], cur_labels[~band])  # exact where reliable
    # Unreliable pixels are re-labelled by colour + proximity: all right here.
    assert np.mean(out[band] == cur_labels[band]) > 0.97


def test_colour_decides_near_a_boundary():
    # A disoccluded strip next to the block edge: the nearest reliable pixel may be of
    # the other label, but colour picks the right one.
    (prev_labels, _), (cur_labels, cur_image), flow = moving_pair()
    reliability = np.ones(cur_labels.shape, np.float32)
    reliability[:, 12:18] = 0.0  # straddles the block's right edge (x = 15)
    out = propagate_labels(prev_labels, flow, reliability, cur_image)
    assert np.mean(out[:, 12:18] == cur_labels[:, 12:18]) > 0.97


def test_resegment_fills_unreliable_and_is_renamed():
    (prev_labels, _), (cur_labels, cur_image), flow = moving_pair()
    reliability = np.ones(cur_labels.shape, np.float32)
    reliability[20:30] = 0.0
    calls = []

    def resegment(frame: np.ndarray) -> np.ndarray:
        calls.append(frame.shape)
        return (cur_labels + 7) % 3 + 10  # same regions, different label numbers

    out = propagate_labels(prev_labels, flow, reliability, cur_image, resegment)
    assert calls == [cur_image.shape]
    assert np.array_equal(out, cur_labels)


def test_all_reliable_is_pure_warp_and_bad_shapes():
    (prev_labels, _), (_, cur_image), _ = moving_pair()
    zero = np.zeros((*prev_labels.shape, 2), np.float32)
    out = propagate_labels(prev_labels, zero, np.ones(prev_labels.shape), cur_image)
    assert np.array_equal(out, prev_labels)
    with pytest.raises(SegmentationError, match="backward_flow"):
        propagate_labels(prev_labels, zero[1:], np.ones(prev_labels.shape), cur_image)
    with pytest.raises(SegmentationError):
        propagate_labels(prev_labels.astype(float), zero, np.ones(prev_labels.shape), cur_image)
