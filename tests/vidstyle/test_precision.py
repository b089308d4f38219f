"""Precision of the convolutions: what ``auto`` picks, bfloat16 vs float32 numbers, and the
job folder keeping one precision across a resume."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from flow.synthetic import Motion, render_clip
from vidstyle.config import Config, NetSettings, OptimizerSettings
from vidstyle.errors import OptionError
from vidstyle.net import FeatureNet
from vidstyle.precision import cpu_bfloat16_flags, native_bfloat16, resolve_precision
from vidstyle.stylize import Stylizer
from vidstyle.video import VideoJob, render_video

LAYERS = ["relu1_1", "relu3_1", "relu4_2", "relu5_1"]


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 {flags}\n\n"
                    f"processor\t: 1\nflags\t\t: fpu\n")
    return path


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    assert cpu_bfloat16_flags(_cpuinfo(tmp_path, "avx512f amx_tile amx_bf16 avx512_bf16")) == ["amx_bf16",
                                                                                                "avx512_bf16"]
    assert cpu_bfloat16_flags(_cpuinfo(tmp_path, "avx512f avx512_bf16")) == ["avx512_bf16"]
    assert cpu_bfloat16_flags(_cpuinfo(tmp_path, "avx512f")) == []
    assert cpu_bfloat16_flags(tmp_path / "missing") == []


def test_auto_follows_the_hardware_and_explicit_choices_win():
    native, reason = native_bfloat16()
    assert resolve_precision("auto") == ("bfloat16" if native else "float32", reason)
    assert reason  # always says why
    assert resolve_precision("float32")[0] == "float32"
    assert resolve_precision("bfloat16")[0] == "bfloat16"
    # A resumed job keeps what it recorded, whatever this machine would pick.
    assert resolve_precision("auto", recorded="float32")[0] == "float32"
    assert resolve_precision("auto", recorded="bfloat16")[0] == "bfloat16"
    assert resolve_precision("float32", recorded="bfloat16")[0] == "float32"
    with pytest.raises(OptionError, match="--precision"):
        resolve_precision("float16")
    with pytest.raises(OptionError, match="--precision"):
        NetSettings(precision="half")
    config, _ = Config(net=NetSettings(precision="auto")).with_precision()
    assert config.net.precision in ("float32", "bfloat16")


def test_bfloat16_features_are_float32_tensors_close_to_float32_ones(content64):
    x = tf.constant(content64[None])
    f32 = FeatureNet(NetSettings(precision="float32"), LAYERS)
    bf16 = FeatureNet(NetSettings(precision="bfloat16"), LAYERS)
    assert bf16.dtype == tf.bfloat16 and f32.dtype == tf.float32
    a, b = f32(x, LAYERS), bf16(x, LAYERS)
    for name in LAYERS:
        assert b[name].dtype == tf.float32  # Grams and losses accumulate in float32
        rel = float(tf.norm(a[name] - b[name]) / tf.norm(a[name]))
        assert rel < 0.05, (name, rel)  # 8-bit mantissa: ~0.4 % per op, a few % after 13 layers
        assert rel > 0  # really computed in the other precision


def test_bfloat16_gradient_is_float32_and_points_the_same_way(content64, style64):
    content, x = content64, np.clip(content64 + 0.1 * np.sin(np.arange(64))[None, :, None], 0, 1).astype(np.float32)
    grads = {}
    for precision in ("float32", "bfloat16"):
        stylizer = Stylizer([style64], Config(net=NetSettings(precision=precision)))
        loss, _, grad = stylizer.loss_function(content)(x)
        assert grad.dtype == np.float32 and np.isfinite(grad).all()
        grads[precision] = (loss, grad.ravel())
    (l32, g32), (l16, g16) = grads["float32"], grads["bfloat16"]
    assert abs(l16 - l32) / l32 < 0.02
    assert g16 @ g32 / np.linalg.norm(g16) / np.linalg.norm(g32) > 0.95


def test_bfloat16_optimization_lowers_the_loss_within_bounds(content64, style64):
    config = Config(net=NetSettings(precision="bfloat16"),
                    optimizer=OptimizerSettings(iterations=15, pyramid=1, tolerance=0.0))
    stylizer = Stylizer([style64], config)
    start, _, _ = stylizer.loss_function(content64)(content64)
    result = stylizer.optimize(content64, content64, iterations=15)
    assert result.loss < 0.7 * start
    assert result.image.dtype == np.float32 and result.image.min() >= 0 and result.image.max() <= 1


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    clip = render_clip(skimage.data.astronaut(), (48, 32), Motion(dx=2.0, dy=1.0), n_frames=3)
    folder = tmp_path_factory.mktemp("clip")
    for k, frame in enumerate(clip.frames):
        cv2.imwrite(str(folder / f"f{k + 1}.png"), np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)[..., ::-1])
    return folder


@pytest.fixture(scope="module")
def style_file(tmp_path_factory, style64):
    path = tmp_path_factory.mktemp("style") / "style.png"
    cv2.imwrite(str(path), (style64[..., ::-1] * 255).astype(np.uint8))
    return path


def _config(precision: str) -> Config:
    return Config(size=48, net=NetSettings(precision=precision),
                  optimizer=OptimizerSettings(iterations=4, first_iterations=4, pyramid=1))


def test_a_job_records_its_precision_and_a_resume_keeps_it(tmp_path, clip_dir, style_file):
    out = tmp_path / "out"
    other = "float32" if resolve_precision("auto")[0] == "bfloat16" else "bfloat16"
    first = render_video(VideoJob(clip_dir, (style_file,), out, encode=False), _config(other))
    settings = json.loads((out / "settings.json").read_text())
    assert settings["config"]["net"]["precision"] == other
    assert settings["notes"]["precision"].startswith(f"{other}: chosen with --precision")
    assert first.precision.startswith(other)
    frames = {p.name: p.read_bytes() for p in first.frames}
    first.frames[-1].unlink()
    # Resumed with auto on this machine (which would pick the other precision): the job
    # continues in the recorded one and the re-rendered frame is bit-identical.
    resumed = render_video(VideoJob(clip_dir, (style_file,), out, encode=False), _config("auto"))
    assert resumed.resumed_frames == 2
    assert resumed.precision == f"{other}: as recorded by the run being resumed"
    assert {p.name: p.read_bytes() for p in resumed.frames} == frames
    assert json.loads((out / "settings.json").read_text())["config"] == settings["config"]
