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


def _masks(rng, k, h, w):
    masks = np.zeros((k, h, w), np.float32)
    labels = rng.integers(0, k - 1, (h, w))  # the last slot stays empty (a label absent here)
    for slot in range(k):
        masks[slot] = labels == slot
    return masks


def test_tile_sums_add_up_to_the_whole_image_statistics():
    rng = np.random.default_rng(2)
    f = tf.constant(rng.uniform(size=(1, 6, 8, 5)).astype(np.float32))
    p = tf.constant(rng.uniform(size=(1, 6, 8, 5)).astype(np.float32))
    m = tf.constant(_masks(rng, 3, 6, 8))
    top, bottom = slice(0, 2), slice(2, 6)  # two tiles of rows
    grams = losses.gram_sum(f[:, top]) + losses.gram_sum(f[:, bottom])
    assert grams.shape == (5, 5)
    np.testing.assert_allclose((grams / 48.0)[None], losses.gram_matrix(f), rtol=1e-5)
    errors = losses.squared_error_sum(f[:, top], p[:, top]) + losses.squared_error_sum(f[:, bottom], p[:, bottom])
    np.testing.assert_allclose(errors / f.shape.num_elements(), losses.content_loss(f, p), rtol=1e-5)
    masked = losses.masked_gram_sum(f[:, top], m[:, top]) + losses.masked_gram_sum(f[:, bottom], m[:, bottom])
    assert masked.shape == (3, 5, 5)
    whole, means = losses.masked_grams(f, m)
    np.testing.assert_allclose(losses.masked_grams_from_sum(masked, m), whole, rtol=1e-5)
    assert means.shape == (3,) and float(means[-1]) == 0.0 and np.isfinite(whole.numpy()).all()


def test_segmented_style_loss_from_summed_grams_equals_the_untiled_loss():
    rng = np.random.default_rng(3)
    f = {"a": tf.constant(rng.uniform(size=(1, 6, 8, 4)).astype(np.float32)),
         "b": tf.constant(rng.uniform(size=(1, 3, 4, 2)).astype(np.float32))}
    m = {"a": tf.constant(_masks(rng, 3, 6, 8)), "b": tf.constant(_masks(rng, 3, 3, 4))}
    targets = {k: tf.constant(rng.uniform(size=(3, v.shape[-1], v.shape[-1])).astype(np.float32)) for k, v in f.items()}
    weights = {"a": 1.0, "b": 0.5}
    untiled = losses.segmented_style_loss(f, m, targets, weights)
    summed = {k: losses.masked_grams_from_sum(losses.masked_gram_sum(f[k], m[k]), m[k]) for k in f}
    np.testing.assert_allclose(losses.segmented_style_loss_of_grams(summed, m, targets, weights), untiled, rtol=1e-5)
    graph = tf.function(losses.segmented_style_loss)(f, m, targets, weights)
    np.testing.assert_allclose(graph, untiled, rtol=1e-6)


def test_segmented_style_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    masks = {"l": tf.constant(_masks(rng, 3, 4, 5).astype(np.float64))}
    target = {"l": tf.constant(rng.uniform(size=(3, 3, 3)))}

    def f(x):
        return losses.segmented_style_loss({"l": x}, masks, target, {"l": 1.0})

    theoretical, numerical = tf.test.compute_gradient(f, [tf.constant(rng.uniform(size=(1, 4, 5, 3)))])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-5, atol=1e-7)
