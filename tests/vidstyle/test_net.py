"""Feature network: shapes, truncation, pooling, masks through the net; preprocessing known answers."""

import numpy as np
import pytest
import tensorflow as tf

from vidstyle.errors import OptionError
from vidstyle.net import FeatureNet, NetSettings, layer_sequence

FLOAT32 = NetSettings(precision="float32")  # known answers are float32 arithmetic


@pytest.fixture(scope="module")
def net():
    return FeatureNet(NetSettings(), ["relu1_1", "relu4_2", "relu5_1"])


def test_layer_sequence_vgg16():
    seq = layer_sequence("vgg16")
    assert seq[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert seq[-1] == "pool5" and len(seq) == 13 * 2 + 5


def test_feature_shapes(net, content64):
    h, w = content64.shape[:2]
    feats = net(tf.constant(content64[None]), ["relu1_1", "relu4_2", "relu5_1"])
    assert feats["relu1_1"].shape == (1, h, w, 64)
    assert feats["relu4_2"].shape == (1, h // 8, w // 8, 512)
    assert feats["relu5_1"].shape == (1, h // 16, w // 16, 512)


def test_truncated_at_deepest_requested_layer():
    shallow = FeatureNet(NetSettings(), ["relu2_1"])
    assert shallow.sequence[-1] == "relu2_1"
    assert "conv3_1" not in shallow._params


def test_pretrained_features_discriminate(net, content64, style64):
    # ImageNet features of two different photos differ far more than of one photo and its noisy copy.
    noisy = np.clip(content64 + np.random.default_rng(0).normal(0, 0.02, content64.shape), 0, 1).astype(np.float32)
    f = lambda x: net(tf.constant(x[None]), ["relu4_2"])["relu4_2"].numpy()  # noqa: E731
    same = np.abs(f(content64) - f(noisy)).mean()
    other = np.abs(f(content64) - f(style64[: content64.shape[0], : content64.shape[1]])).mean()
    assert other > 3 * same


def test_avg_pooling_differs_from_max(content64):
    x = tf.constant(content64[None])
    avg = FeatureNet(NetSettings(pooling="avg"), ["relu3_1"])(x, ["relu3_1"])["relu3_1"]
    mx = FeatureNet(NetSettings(pooling="max"), ["relu3_1"])(x, ["relu3_1"])["relu3_1"]
    assert avg.shape == mx.shape and not np.allclose(avg, mx)


def test_bad_settings():
    with pytest.raises(OptionError, match="--net"):
        NetSettings(net="resnet")
    with pytest.raises(OptionError, match="--pooling"):
        NetSettings(pooling="median")
    with pytest.raises(OptionError, match="unknown layer"):
        FeatureNet(NetSettings(), ["relu9_9"])


def test_masks_follow_layer_grid(net):
    masks = np.zeros((2, 64, 48), np.float32)
    masks[0, :32] = 1
    masks[1, 32:] = 1
    out = net.masks_through(masks, ["relu1_1", "relu4_2"])
    assert out["relu1_1"].shape == (2, 64, 48) and out["relu4_2"].shape == (2, 8, 6)
    np.testing.assert_allclose(out["relu4_2"].sum(0), 1.0, atol=1e-5)  # a partition stays a partition
    assert out["relu4_2"][0, 0].min() > 0.99 and out["relu4_2"][0, -1].max() < 0.01


def test_vgg19_from_keras_weights_file(tmp_path, content64):
    # Offline machines cannot fetch ImageNet weights; a Keras VGG19 weights file (here with
    # random values) exercises the same loading and caffe-preprocessing path.
    import keras

    path = tmp_path / "vgg19.weights.h5"
    keras.applications.VGG19(include_top=False, weights=None).save_weights(path)
    net = FeatureNet(NetSettings(net="vgg19", weights=str(path)), ["relu5_1"])
    assert [n for n in net.sequence if n.startswith("conv")][-1] == "conv5_1"
    out = net(tf.constant(content64[None]), ["relu5_1"])["relu5_1"]
    assert out.shape == (1, 2, 4, 512)


def test_vgg19_bad_weights_file_is_a_clear_error(tmp_path):
    from vidstyle.errors import WeightsError

    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(WeightsError, match="cannot read VGG19 weights"):
        FeatureNet(NetSettings(net="vgg19", weights=str(bad)), ["relu1_1"])
    with pytest.raises(WeightsError, match="not found"):
        FeatureNet(NetSettings(net="vgg19", weights=str(tmp_path / "missing.h5")), ["relu1_1"])


# ---- preprocessing known answers (issue 11, item 11) --------------------------------------------
# torchvision's ImageNet normalization, written out here (not imported) so a changed constant fails.
TORCHVISION_MEAN = np.array([0.485, 0.456, 0.406])
TORCHVISION_STD = np.array([0.229, 0.224, 0.225])
RGB = np.array([0.9, 0.5, 0.1])  # a strongly coloured constant image: channel order matters


def _conv_at(kernel: np.ndarray, bias: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """One output pixel of a 3×3 'SAME' convolution (cross-correlation) over a (3, 3, C) patch."""
    return np.einsum("hwc,hwco->o", patch.astype(np.float64), kernel.astype(np.float64)) + bias


def test_vgg16_preprocess_is_torchvision_rgb_normalization(net):
    x = np.broadcast_to(RGB, (1, 4, 4, 3)).astype(np.float32)
    got = net.preprocess(tf.constant(x)).numpy()
    np.testing.assert_allclose(got[0, 0, 0], (RGB - TORCHVISION_MEAN) / TORCHVISION_STD, rtol=1e-5)


def test_vgg16_conv1_1_known_answer_on_a_constant_colour():
    from vidstyle.weights import load_vgg16

    kernel, bias = load_vgg16()[0]
    assert kernel.shape == (3, 3, 3, 64)  # HWIO, input channels R, G, B
    image = np.broadcast_to(RGB, (1, 9, 9, 3)).astype(np.float32)
    out = FeatureNet(FLOAT32, ["conv1_1"])(tf.constant(image), ["conv1_1"])["conv1_1"].numpy()
    normalized = (RGB - TORCHVISION_MEAN) / TORCHVISION_STD
    want = _conv_at(kernel, bias, np.broadcast_to(normalized, (3, 3, 3)))
    np.testing.assert_allclose(out[0, 4, 4], want, rtol=1e-4, atol=1e-4)
    # The test can tell the conventions apart: BGR order or caffe's 0–255 scale give other answers.
    bgr = _conv_at(kernel, bias, np.broadcast_to((RGB[::-1] - TORCHVISION_MEAN) / TORCHVISION_STD, (3, 3, 3)))
    caffe = _conv_at(kernel, bias, np.broadcast_to(RGB[::-1] * 255 - (103.939, 116.779, 123.68), (3, 3, 3)))
    assert np.abs(bgr - want).max() > 0.1 and np.abs(caffe - want).max() > 1.0
    # relu1_1 is the rectified conv1_1.
    relu = FeatureNet(FLOAT32, ["relu1_1"])(tf.constant(image), ["relu1_1"])["relu1_1"].numpy()
    np.testing.assert_allclose(relu[0, 4, 4], np.maximum(want, 0), rtol=1e-4, atol=1e-4)


def test_vgg16_conv1_1_known_answer_on_a_textured_patch():
    # Spatial layout of the kernel: output (y, x) = Σ_{dy,dx} k[dy+1, dx+1] · in(y+dy, x+dx) + b.
    from vidstyle.weights import load_vgg16

    kernel, bias = load_vgg16()[0]
    image = np.random.default_rng(0).uniform(0, 1, (1, 5, 5, 3)).astype(np.float32)
    out = FeatureNet(FLOAT32, ["conv1_1"])(tf.constant(image), ["conv1_1"])["conv1_1"].numpy()
    patch = (image[0, 1:4, 2:5] - TORCHVISION_MEAN) / TORCHVISION_STD  # centred on (y, x) = (2, 3)
    np.testing.assert_allclose(out[0, 2, 3], _conv_at(kernel, bias, patch), rtol=1e-4, atol=1e-4)
    flipped = _conv_at(kernel[::-1, ::-1], bias, patch)
    assert np.abs(flipped - out[0, 2, 3]).max() > 0.1  # a flipped (true-convolution) kernel would differ


def test_vgg19_preprocess_is_caffe_bgr_0_255_mean_subtracted():
    # Keras' VGG19 weights expect caffe input: BGR, 0–255, ImageNet mean (B, G, R) subtracted, no std.
    from types import SimpleNamespace

    fake = SimpleNamespace(settings=SimpleNamespace(net="vgg19"))
    x = np.broadcast_to(RGB, (1, 2, 2, 3)).astype(np.float32)
    got = FeatureNet.preprocess(fake, tf.constant(x)).numpy()
    want = [0.1 * 255 - 103.939, 0.5 * 255 - 116.779, 0.9 * 255 - 123.68]
    np.testing.assert_allclose(got[0, 1, 1], want, rtol=1e-5)
