"""Flow colour coding and the known-motion renderer."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from flow.errors import FlowError
from flow.synthetic import Motion, render_clip
from flow.visualize import flow_to_color


def test_flow_to_color():
    flow = np.zeros((6, 8, 2), np.float32)
    flow[0, 0] = (3.0, 0.0)
    flow[0, 1] = (-3.0, 0.0)
    flow[0, 2] = np.nan
    color = flow_to_color(flow)
    assert color.shape == (6, 8, 3) and color.dtype == np.uint8
    assert np.array_equal(color[5, 5], [255, 255, 255])  # no motion: white
    assert np.array_equal(color[0, 2], [0, 0, 0])  # unknown: black
    assert not np.array_equal(color[0, 0], color[0, 1])  # direction -> hue
    assert color[0, 0].min() < 30  # full magnitude: saturated
    half = flow_to_color(flow, max_magnitude=6.0)
    assert half[0, 0].min() > color[0, 0].min()


def test_translation_ground_truth(integer_clip):
    flow = integer_clip.flow(0, 1)
    background = ~integer_clip.occluder_mask(0)
    assert np.all(flow[background] == [3.0, -2.0])
    assert np.all(flow[~background] == [-4.0, 2.0])
    assert np.array_equal(integer_clip.flow(1, 0)[~integer_clip.occluder_mask(1)][0], [-3.0, 2.0])


def test_rotation_zoom_ground_truth_round_trip():
    clip = render_clip(skimage.data.astronaut(), (64, 48), Motion(rotation_deg=3, zoom=1.05), 3)
    forward, backward = clip.flow(0, 2), clip.flow(2, 0)
    ys, xs = np.mgrid[0:48, 0:64]
    # Following forward then backward flow returns to the start (nearest-pixel lookup
    # of the backward flow, hence the tolerance).
    tx = np.clip(np.rint(xs + forward[..., 0]), 0, 63).astype(int)
    ty = np.clip(np.rint(ys + forward[..., 1]), 0, 47).astype(int)
    inside = ~clip.occluded(0, 2) & ~clip.occluder_mask(0)
    loop = forward + backward[ty, tx]
    assert np.abs(loop[inside]).max() < 0.8
    assert clip.occluded(0, 2).any()


def test_occlusion_mask(integer_clip):
    occluded = integer_clip.occluded(0, 1)
    # Moving right by 3 px: the last 3 columns leave the frame.
    assert occluded[:, -3:][~integer_clip.occluder_mask(0)[:, -3:]].all()
    # Background hidden by the occluder in frame 1 is occluded; the occluder itself not.
    assert not occluded[integer_clip.occluder_mask(0)].any()
    assert occluded[~integer_clip.occluder_mask(0)].sum() > occluded[:, -3:].sum()


def test_render_clip_bad_input():
    with pytest.raises(FlowError):
        render_clip(np.zeros((10, 10), np.uint8), (32, 32), Motion())
    with pytest.raises(FlowError):
        render_clip(skimage.data.astronaut(), (32, 32), Motion(), 1)
