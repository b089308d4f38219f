"""Tests for segmentation.auto: joint k-means masks for a content/style pair."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from segmentation import SegmentationError, auto_masks


def small(image: np.ndarray, width: int = 120) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def test_sky_matches_sky_on_photoreal_pair(photoreal, read_rgb):
    # Pair 1: a daytime harbour skyline → a dusk skyline; both have sky on top and water
    # at the bottom, in very different colours.
    content = read_rgb(photoreal / "in1.png", 0.25)
    style = read_rgb(photoreal / "tar1.png", 0.25)
    c, s = auto_masks(content, style, 4, seed=0)
    assert c.shape == content.shape[:2] and s.shape == style.shape[:2]
    top_c = np.bincount(c[:5].ravel()).argmax()
    top_s = np.bincount(s[:5].ravel()).argmax()
    assert top_c == top_s
    assert np.mean(c[:5] == top_c) > 0.9 and np.mean(s[:5] == top_s) > 0.9
    assert set(np.unique(c)) == set(np.unique(s))  # every label in both images


def test_deterministic_per_seed_and_labels_shared():
    content = small(data.astronaut())
    style = small(data.coffee())
    a = auto_masks(content, style, 5, seed=3)
    b = auto_masks(content, style, 5, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    for labels in a:
        assert labels.dtype == np.int32 and labels.min() == 0 and labels.max() < 5
    assert set(np.unique(a[0])) == set(np.unique(a[1]))


def test_regions_are_cleaned():
    c, s = auto_masks(small(data.chelsea()), small(data.coffee()), 4, seed=0)
    for labels in (c, s):
        n_components = sum(
            cv2.connectedComponents((labels == k).astype(np.uint8))[0] - 1
            for k in np.unique(labels)
        )
        assert n_components < 40  # no salt-and-pepper speckle


@pytest.mark.parametrize("k", [1, 10, 2.5])
def test_bad_k(k):
    image = small(data.coffee())
    with pytest.raises(SegmentationError):
        auto_masks(image, image, k)
