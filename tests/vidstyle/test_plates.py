"""Plate pixels: sRGB curve pair, straight/premultiplied alpha, bit depths, EXR files, and
guided upsampling against plain Lanczos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from vidstyle.errors import OptionError
from vidstyle.exr import exr_backend, read_exr, write_exr
from vidstyle.plates import (
    PlateInfo,
    PlateOptions,
    linear_to_srgb,
    output_pixels,
    plate_rgb,
    read_plate,
    srgb_to_linear,
)
from vidstyle.upsample import guided_upsample, lanczos_upsample

needs_exr = pytest.mark.skipif(exr_backend() is None, reason="no EXR backend (pip install 'vidstyle[exr]')")


def test_srgb_curve_pair_round_trips():
    values = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(values)) - values).max() < 1e-5
    assert srgb_to_linear(np.float32(0.5)) == pytest.approx(0.21404, abs=1e-4)  # IEC 61966-2-1


def test_options_resolve_per_plate_and_reject_unknown_values():
    opts = PlateOptions()
    assert opts.resolved(PlateInfo("uint8", False, (4, 4))).output_format == "png"
    assert opts.resolved(PlateInfo("uint16", True, (4, 4))).output_format == "png16"
    exr = opts.resolved(PlateInfo("exr", True, (4, 4)))
    assert (exr.output_format, exr.input_transfer, exr.alpha) == ("exr", "linear", "premultiplied")
    with pytest.raises(OptionError, match="--output-format"):
        PlateOptions(output_format="jpeg")


def test_premultiplied_plate_is_unpremultiplied_and_written_back():
    rng = np.random.default_rng(0)
    straight = rng.uniform(0, 1, (8, 8, 3)).astype(np.float32)
    alpha = np.repeat(np.array([0, 64, 128, 255] * 2, np.uint16)[None], 8, axis=0) * 257
    premult = np.rint(straight * alpha[..., None] / 65535 * 65535).astype(np.uint16)
    raw = np.concatenate([premult, alpha[..., None]], axis=2)
    rgb = plate_rgb(raw, transfer="srgb", alpha="premultiplied")
    visible = alpha > 0
    assert np.abs(rgb[visible] - straight[visible]).max() < 1e-3
    assert (rgb[~visible] == 0).all()
    opts = PlateOptions(output_format="png16", alpha="premultiplied", input_transfer="srgb")
    out = output_pixels(rgb, raw, opts, plate_is_exr=False)
    assert out.dtype == np.uint16 and np.array_equal(out[..., 3], alpha)  # alpha untouched
    assert np.abs(out[..., :3].astype(int) - premult.astype(int)).max() <= 1


def test_output_pixels_quantize_once_at_the_write():
    ramp = np.repeat(np.linspace(0, 1, 4096, dtype=np.float32)[None, :, None], 3, axis=2)
    deep = output_pixels(ramp, None, PlateOptions(output_format="png16", input_transfer="srgb", alpha="straight"),
                         plate_is_exr=False)
    flat = output_pixels(ramp, None, PlateOptions(output_format="png", input_transfer="srgb", alpha="straight"),
                         plate_is_exr=False)
    assert len(np.unique(deep)) == 4096 and len(np.unique(flat)) == 256


@needs_exr
def test_exr_round_trip_half_float(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.uniform(-0.5, 8, (12, 20, 4)).astype(np.float16)
    write_exr(tmp_path / "a.exr", image)
    back = read_exr(tmp_path / "a.exr")
    assert back.dtype == np.float16 and np.array_equal(back, image)
    assert np.array_equal(read_plate(tmp_path / "a.exr"), image)


def test_exr_refused_in_one_line_without_a_backend(tmp_path, monkeypatch):
    import vidstyle.exr

    monkeypatch.setattr(vidstyle.exr, "exr_backend", lambda: None)
    with pytest.raises(OptionError, match="pip install 'vidstyle\\[exr\\]'"):
        write_exr(tmp_path / "a.exr", np.zeros((4, 4, 3), np.float32))


def _edges(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(np.clip(image * 255, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return cv2.Canny(grey, 60, 120) > 0


def test_guided_upsample_puts_edges_on_the_plate_edges():
    plate = skimage.data.astronaut()[:192, 96:288].astype(np.float32) / 255  # 192 x 192
    small = cv2.resize(plate, (48, 48), interpolation=cv2.INTER_AREA)
    stylized = np.clip(1.0 - small * 0.8 + 0.05, 0, 1)  # a colour map the plate's edges survive
    guided = guided_upsample(stylized, plate)
    plain = np.clip(lanczos_upsample(stylized, plate.shape[:2]), 0, 1)
    truth = np.clip(1.0 - plate * 0.8 + 0.05, 0, 1)  # the same map applied at full size
    assert guided.shape == plate.shape and guided.dtype == np.float32
    assert np.abs(guided - truth).mean() < 0.5 * np.abs(plain - truth).mean()
    recall = (_edges(guided) & _edges(truth)).sum() / _edges(truth).sum()
    plain_recall = (_edges(plain) & _edges(truth)).sum() / _edges(truth).sum()
    assert recall > plain_recall + 0.1
    # Downscaled again it is still the stylized frame.
    back = cv2.resize(guided, (48, 48), interpolation=cv2.INTER_AREA)
    assert np.abs(back - stylized).mean() < 0.01
    with pytest.raises(ValueError, match="smaller"):
        guided_upsample(plate, small)
