"""Tests for segmentation.grabcut on a real photo (skimage's astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from segmentation import SegmentationError, grabcut


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """Eileen Collins, 512×512 → 128×128 RGB uint8."""
    return cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)


RECT = (8, 3, 85, 125)  # x, y, w, h around the person at 128 px


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_foreground_covers_the_person(astronaut, seed):
    labels = grabcut(astronaut, RECT, seed=seed)
    assert labels.shape == (128, 128) and labels.dtype == np.int32
    assert set(np.unique(labels)) <= {0, 1}
    # Rough known regions (rows, cols at 128 px): face and orange suit are the person;
    # the wall between head and rocket and the flag are background inside the rect.
    assert labels[15:35, 45:65].mean() > 0.95  # face
    assert labels[60:100, 15:60].mean() > 0.9  # suit
    assert labels[5:20, 75:90].mean() < 0.1  # wall
    assert labels[5:25, 8:22].mean() < 0.1  # flag
    assert labels[:, 93:].sum() == 0  # outside the rect


def test_deterministic_and_float_input_gives_same_result(astronaut):
    a = grabcut(astronaut, RECT, iterations=2)
    b = grabcut(astronaut / 255.0, RECT, iterations=2)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "rect",
    [(0, 0, 0, 10), (-1, 0, 10, 10), (120, 0, 10, 10), (0, 0, 128, 128), (1.5, 0, 10, 10),
     (0, 0, 10)],
)
def test_bad_rect(astronaut, rect):
    with pytest.raises(SegmentationError):
        grabcut(astronaut, rect)


def test_bad_image():
    with pytest.raises(SegmentationError):
        grabcut(np.zeros((10, 10), np.uint8), (1, 1, 5, 5))
