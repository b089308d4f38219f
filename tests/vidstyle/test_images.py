"""Tests for vidstyle.images: loading any image as float RGB, resizing, atomic saving."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidstyle.errors import InputError, OptionError, OutputError
from vidstyle.images import (
    MAX_PIXELS,
    MIN_SIDE,
    image_size,
    load_image,
    resize_long_side,
    resize_to,
    save_image,
)


def _gradient(h: int = 24, w: int = 32) -> np.ndarray:
    """float32 RGB test image with distinct channels."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x / (w - 1), y / (h - 1), np.full_like(x, 0.25)], axis=2)


class TestLoadImage:
    def test_rgb_png_roundtrip_is_rgb_not_bgr(self, tmp_path):
        image = _gradient()
        save_image(tmp_path / "a.png", image)
        loaded = load_image(tmp_path / "a.png")
        assert loaded.shape == (24, 32, 3) and loaded.dtype == np.float32
        np.testing.assert_allclose(loaded, image, atol=1 / 255)

    def test_grayscale_is_replicated(self, tmp_path):
        gray = np.tile(np.arange(32, dtype=np.uint8) * 8, (20, 1))
        cv2.imwrite(str(tmp_path / "g.png"), gray)
        loaded = load_image(tmp_path / "g.png")
        assert loaded.shape == (20, 32, 3)
        np.testing.assert_allclose(loaded[..., 0], gray / 255.0, atol=1e-6)
        np.testing.assert_array_equal(loaded[..., 0], loaded[..., 2])

    def test_rgba_is_composited_on_white(self, tmp_path):
        bgra = np.zeros((20, 20, 4), np.uint8)
        bgra[..., 2] = 255  # red
        bgra[:10, :, 3] = 255  # top half opaque, bottom half transparent
        cv2.imwrite(str(tmp_path / "a.png"), bgra)
        loaded = load_image(tmp_path / "a.png")
        np.testing.assert_allclose(loaded[0, 0], [1, 0, 0], atol=1e-6)
        np.testing.assert_allclose(loaded[-1, -1], [1, 1, 1], atol=1e-6)

    def test_16bit_png_is_scaled(self, tmp_path):
        bgr16 = np.zeros((16, 16, 3), np.uint16)
        bgr16[..., 2] = 65535  # red
        bgr16[..., 1] = 32768
        cv2.imwrite(str(tmp_path / "d.png"), bgr16)
        loaded = load_image(tmp_path / "d.png")
        np.testing.assert_allclose(loaded[0, 0], [1.0, 32768 / 65535, 0.0], atol=1e-6)

    def test_float_tiff_is_clipped(self, tmp_path):
        bgr = np.full((16, 16, 3), 0.5, np.float32)
        bgr[0, 0] = [2.0, -1.0, 0.25]
        if not cv2.imwrite(str(tmp_path / "f.tif"), bgr):
            pytest.skip("OpenCV built without TIFF")
        loaded = load_image(tmp_path / "f.tif")
        assert loaded.dtype == np.float32
        np.testing.assert_allclose(loaded[0, 0], [0.25, 0.0, 1.0])
        np.testing.assert_allclose(loaded[1, 1], [0.5, 0.5, 0.5])

    def test_jpeg_exif_orientation_is_applied(self, tmp_path):
        pil = pytest.importorskip("PIL.Image")
        exif = pil.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise to display
        pil.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "r.jpg", exif=exif.tobytes())
        assert load_image(tmp_path / "r.jpg").shape == (40, 20, 3)
        assert image_size(tmp_path / "r.jpg") == (20, 40)

    def test_max_side_downscales_huge_image(self, tmp_path):
        side = int(MAX_PIXELS**0.5) + 64
        cv2.imwrite(str(tmp_path / "big.png"), np.zeros((side, 64), np.uint8))
        cv2.imwrite(str(tmp_path / "huge.png"), np.zeros((side, side), np.uint8))
        with pytest.raises(InputError, match="--size"):
            load_image(tmp_path / "huge.png")
        assert load_image(tmp_path / "huge.png", max_side=128).shape == (128, 128, 3)

    @pytest.mark.parametrize(
        ("content", "message"),
        [(b"", "empty"), (b"\x89PNG this is not an image", "corrupt")],
    )
    def test_empty_or_corrupt(self, tmp_path, content, message):
        path = tmp_path / "bad.png"
        path.write_bytes(content)
        with pytest.raises(InputError, match=message):
            load_image(path)

    def test_missing(self, tmp_path):
        with pytest.raises(InputError, match="not found"):
            load_image(tmp_path / "nope.jpg")

    def test_tiny(self, tmp_path):
        cv2.imwrite(str(tmp_path / "t.png"), np.zeros((MIN_SIDE - 1, 40, 3), np.uint8))
        with pytest.raises(InputError, match="smaller than"):
            load_image(tmp_path / "t.png")


class TestResize:
    def test_long_side_keeps_aspect(self):
        image = _gradient(30, 60)
        small = resize_long_side(image, 20)
        assert small.shape == (10, 20, 3) and small.dtype == np.float32
        assert resize_long_side(image, 120).shape == (60, 120, 3)
        assert resize_long_side(np.zeros((1, 100, 3), np.float32), 10).shape == (1, 10, 3)

    def test_area_downscale_does_not_alias(self):
        stripes = np.zeros((64, 64, 3), np.float32)
        stripes[:, ::2] = 1.0  # 1-px stripes: area averaging gives flat grey
        np.testing.assert_allclose(resize_to(stripes, (16, 16)), 0.5, atol=1e-6)

    def test_cubic_upscale_stays_in_range(self):
        checker = (np.indices((8, 8)).sum(0) % 2).astype(np.float32)[..., None].repeat(3, 2)
        up = resize_to(checker, (32, 32))
        assert up.min() >= 0.0 and up.max() <= 1.0


class TestSaveImage:
    def test_atomic_leaves_no_temp_files(self, tmp_path):
        target = tmp_path / "sub" / "out.png"
        save_image(target, _gradient())
        save_image(target, _gradient() * 0.5)  # overwrite in place
        assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]
        np.testing.assert_allclose(load_image(target), _gradient() * 0.5, atol=1 / 255)

    def test_16bit(self, tmp_path):
        save_image(tmp_path / "d.png", _gradient(), bit_depth=16)
        raw = cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16
        np.testing.assert_allclose(load_image(tmp_path / "d.png"), _gradient(), atol=1e-4)
        with pytest.raises(OptionError):
            save_image(tmp_path / "d.jpg", _gradient(), bit_depth=16)

    def test_unwritable_folder(self, tmp_path):
        blocker = tmp_path / "file.txt"
        blocker.write_text("not a folder")
        with pytest.raises(OutputError, match="choose another -o"):
            save_image(blocker / "out.png", _gradient())

    def test_unknown_extension(self, tmp_path):
        with pytest.raises(OutputError, match="unknown image format"):
            save_image(tmp_path / "out.xyz", _gradient())
