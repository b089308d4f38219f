"""Tests for segmentation.palette: DPST mask files ↔ label maps."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from segmentation import PALETTE, SegmentationError, labels_to_masks, read_mask, write_mask
from segmentation.palette import PALETTE_NAMES

NAMES = {name: k for k, name in enumerate(PALETTE_NAMES)}


def block_labels(height: int = 48, width: int = 64) -> np.ndarray:
    """One 16×16-ish block per palette colour (every label fills solid squares)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return ((ys * 3 // height) * 3 + (xs * 3 // width)).astype(np.int32)


def write_rgb(path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


def test_palette_order_and_colours():
    assert PALETTE_NAMES[:3] == ("blue", "green", "black")
    assert PALETTE["light_blue"] == (0, 255, 255) and PALETTE["grey"] == (128, 128, 128)
    assert len(PALETTE) == 9


def test_round_trip(tmp_path):
    labels = block_labels()
    path = tmp_path / "mask.png"
    write_mask(path, labels)
    assert np.array_equal(read_mask(path), labels)
    assert [p.name for p in tmp_path.iterdir()] == ["mask.png"]  # no temp file left
    rgb = cv2.imread(str(path))[..., ::-1]
    assert tuple(rgb[0, 0]) == PALETTE["blue"] and tuple(rgb[-1, -1]) == PALETTE["purple"]


def test_thresholds_accept_off_shades(tmp_path):
    labels = block_labels()
    rgb = np.array(list(PALETTE.values()), dtype=np.int16)[labels]
    rgb = np.where(rgb == 255, 240, np.where(rgb == 0, 20, 110))  # 0.94 / 0.08 / 0.43
    write_rgb(tmp_path / "m.png", rgb.astype(np.uint8))
    assert np.array_equal(read_mask(tmp_path / "m.png"), labels)


def test_antialiased_edges_are_tolerated(tmp_path):
    # Black/white halves with a blurred (anti-aliased) boundary: the blend pixels,
    # some of them grey by the thresholds, must go to black or white.
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[:, 40:] = 255
    rgb = cv2.GaussianBlur(rgb, (5, 5), 1.0)
    write_rgb(tmp_path / "aa.png", rgb)
    labels = read_mask(tmp_path / "aa.png")
    assert set(np.unique(labels)) == {NAMES["black"], NAMES["white"]}
    assert np.all(labels[:, :37] == NAMES["black"]) and np.all(labels[:, 43:] == NAMES["white"])


def test_unknown_colour_is_an_error_naming_it(tmp_path):
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[10:30, 10:30] = (255, 128, 0)  # orange: not in the palette, 25 % of pixels
    write_rgb(tmp_path / "bad.png", rgb)
    with pytest.raises(SegmentationError, match=r"\(255, 128, 0\) \(400 pixels\)"):
        read_mask(tmp_path / "bad.png")


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(SegmentationError, match="does not exist"):
        read_mask(tmp_path / "nope.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SegmentationError, match="cannot decode"):
        read_mask(tmp_path / "broken.png")


def test_nearest_resize_when_only_scale_differs(tmp_path):
    labels = block_labels(48, 64)
    write_mask(tmp_path / "m.png", labels)
    up = read_mask(tmp_path / "m.png", size=(96, 128))
    assert up.shape == (96, 128)
    assert np.array_equal(up[::2, ::2], labels)  # nearest: no new labels, blocks kept
    assert set(np.unique(up)) == set(np.unique(labels))
    # One row off (aspect within 1 %) is resized too, as seg_in7.png needs.
    write_mask(tmp_path / "big.png", block_labels(120, 160))
    assert read_mask(tmp_path / "big.png", size=(121, 160)).shape == (121, 160)


def test_size_mismatch_is_an_error(tmp_path):
    write_mask(tmp_path / "m.png", block_labels(48, 64))
    with pytest.raises(SegmentationError, match="aspect"):
        read_mask(tmp_path / "m.png", size=(64, 64))


def test_write_rejects_labels_outside_palette(tmp_path):
    with pytest.raises(SegmentationError):
        write_mask(tmp_path / "m.png", np.full((4, 4), 9))
    with pytest.raises(SegmentationError):
        write_mask(tmp_path / "m.png", np.zeros((4, 4), np.float32))


def test_labels_to_masks_pairs_and_fallbacks(caplog):
    content = np.zeros((4, 6), np.int32)
    content[:, 3:] = 1
    content[0, 0] = 5  # label 5 is not in the style
    style = np.zeros((5, 5), np.int32)
    style[3:] = 2  # label 2 only in the style: dropped
    with caplog.at_level(logging.WARNING, logger="segmentation.palette"):
        cmasks, smasks, labels = labels_to_masks(content, style)
    assert labels == [0, 1, 5]
    assert all(m.dtype == np.float32 for m in cmasks + smasks)
    np.testing.assert_array_equal(sum(cmasks), np.ones((4, 6)))
    assert smasks[0].sum() == 15  # label 0 in style rows 0–2
    # Label 1 is missing from the style: its style mask is the whole image, never empty.
    assert np.all(smasks[1] == 1) and np.all(smasks[2] == 1)
    assert all(np.isfinite(m.sum() / m.mean()) for m in smasks)
    assert "not in the style mask" in caplog.text


def test_dpst_masks_read_with_sensible_labels(photoreal):
    # (file, image, labels that must be present, each covering ≥ 1 % of pixels)
    cases = [
        ("seg_in1.png", "in1.png", {"green", "black", "white"}),
        ("seg_in7.png", "in7.png", {"black", "white"}),  # 393 rows for a 394-row image
        ("seg_tar11.png", "tar11.png", {"blue", "green", "black", "red"}),
        ("seg_in25.png", "in25.png", set(PALETTE_NAMES) - {"green"}),
        ("seg_tar28.png", "tar28.png", {"blue", "black", "white", "red"}),
        ("seg_in29.png", "in29.png", {"blue", "red"}),
    ]
    for mask_name, image_name, expected in cases:
        height, width = cv2.imread(str(photoreal / image_name)).shape[:2]
        labels = read_mask(photoreal / mask_name, size=(height, width))
        assert labels.shape == (height, width)
        fractions = np.bincount(labels.ravel(), minlength=9) / labels.size
        major = {PALETTE_NAMES[k] for k in np.flatnonzero(fractions >= 0.01)}
        assert major == expected, mask_name
        # Thin anti-aliasing strokes must not survive as labels of their own.
        assert np.all(fractions[fractions > 0] > 1e-4), mask_name
