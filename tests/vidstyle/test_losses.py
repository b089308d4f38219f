"""Loss terms on known tensors, gradients, and graph vs eager."""

import numpy as np
import pytest
import tensorflow as tf

from vidstyle import losses


def test_gram_matrix_known_values():
    f = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], np.float32)  # (1, 1, 2, 2): two pixels, two channels
    g = losses.gram_matrix(tf.constant(f)).numpy()[0]
    np.testing.assert_allclose(g, np.array([[1 + 9, 2 + 12], [2 + 12, 4 + 16]]) / 2)


def test_content_loss_is_mse():
    a, b = tf.ones((1, 2, 2, 3)), tf.zeros((1, 2, 2, 3))
    assert float(losses.content_loss(a, b)) == pytest.approx(1.0)
    assert float(losses.content_loss(a, a)) == 0.0


def test_style_loss_zero_at_target_and_channel_normalized():
    g = {"l": tf.eye(4)[None]}
    assert float(losses.style_loss(g, g, {"l": 1.0})) == 0.0
    t = {"l": tf.zeros((1, 4, 4))}
    # mean((I - 0)^2) = 4/16, divided by C^2 = 16
    assert float(losses.style_loss(g, t, {"l": 2.0})) == pytest.approx(2 * 0.25 / 16)


def test_total_variation_of_constant_and_ramp():
    assert float(losses.total_variation_loss(tf.ones((1, 5, 5, 3)))) == 0.0
    ramp = tf.constant(np.tile(np.arange(5, dtype=np.float32)[None, :, None], (5, 1, 3))[None])
    assert float(losses.total_variation_loss(ramp)) == pytest.approx(1.0)


def test_temporal_loss_respects_weights():
    x, w = tf.ones((1, 4, 4, 3)), tf.zeros((1, 4, 4, 3))
    c = np.zeros((1, 4, 4, 1), np.float32)
    assert float(losses.temporal_loss(x, w, tf.constant(c))) == 0.0
    c[0, :2] = 1.0  # half the pixels reliable
    assert float(losses.temporal_loss(x, w, tf.constant(c))) == pytest.approx(0.5)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(1, 4, 5, 3))
    target = rng.uniform(size=(1, 4, 5, 3))
    c = rng.uniform(size=(1, 4, 5, 1))

    def f(t):
        return (losses.total_variation_loss(t) + losses.temporal_loss(t, target, c)
                + losses.style_loss({"l": losses.gram_matrix(t)}, {"l": losses.gram_matrix(target)}, {"l": 1.0}))

    theoretical, numerical = tf.test.compute_gradient(f, [tf.constant(x)])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-5, atol=1e-7)


def test_graph_equals_eager():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.uniform(size=(1, 6, 6, 8)).astype(np.float32))
    eager = losses.gram_matrix(x)
    graph = tf.function(losses.gram_matrix)(x)
    np.testing.assert_allclose(eager, graph, rtol=1e-6)


def test_masked_gram_no_nan_for_empty_mask():
    f = tf.ones((1, 4, 4, 2))
    g = losses.masked_gram_matrix(f, tf.zeros((1, 4, 4, 1)))
    assert np.isfinite(g.numpy()).all()
