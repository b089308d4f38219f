"""The in-graph projected L-BFGS: bounds, convergence, stop reasons, chunk-independent results."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from vidstyle.config import Config, OptimizerSettings
from vidstyle.lbfgs import InGraphLBFGS
from vidstyle.stylize import Stylizer

WEIGHTS = tf.constant([1.0, 4.0, 25.0])  # an ill-conditioned quadratic, one scale per channel


def _quadratic(x, target):
    """Σ w_c (x − target)² with its gradient; the box [0, 1] clips part of the target."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        f = tf.reduce_sum(WEIGHTS * tf.square(x - target))
    return f, {"fit": f}, tape.gradient(f, x)


@pytest.fixture(scope="module")
def target():
    return tf.constant(np.random.default_rng(0).uniform(-0.5, 1.5, (6, 7, 3)).astype(np.float32))


def test_solves_a_bounded_quadratic_exactly(target):
    solver = InGraphLBFGS(_quadratic)
    result = solver.minimize(np.full((6, 7, 3), 0.5, np.float32), (target,), iterations=100,
                             tolerance=1e-7, window=3)
    # The box-constrained minimizer is the target clipped to [0, 1].
    np.testing.assert_allclose(result.image, np.clip(target.numpy(), 0, 1), atol=1e-4)
    assert result.stop_reason == "converged" and result.iterations < 100
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert all(b <= a for a, b in zip(result.history, result.history[1:], strict=False))  # monotone descent


def test_budget_is_the_stop_reason_when_it_runs_out(target):
    result = InGraphLBFGS(_quadratic).minimize(np.zeros((6, 7, 3), np.float32), (target,), iterations=2,
                                               tolerance=0.0, window=3)
    assert result.iterations == 2 and result.stop_reason == "budget" and len(result.history) == 2


def test_iterations_per_call_do_not_change_the_result(content64, style64):
    config = Config(size=64, optimizer=OptimizerSettings(iterations=12, tolerance=0))
    steps = []
    one = Stylizer([style64], config, report_every=1).stylize(content64, callback=steps.append)
    five = Stylizer([style64], config, report_every=5).stylize(content64)
    assert np.array_equal(one.image, five.image) and one.history == five.history
    assert [s.iteration for s in steps] == list(range(1, 13))
    assert all(s.image is not None for s in steps)  # every call ends on a reported image


def test_style_loss_falls_as_far_as_scipy(content64, style64):
    def final_loss(name):
        config = Config(size=64, optimizer=OptimizerSettings(optimizer=name, iterations=20, tolerance=0))
        return Stylizer([style64], config).stylize(content64).loss

    ours, scipy = final_loss("lbfgs"), final_loss("scipy-lbfgs")
    assert ours <= 1.15 * scipy, (ours, scipy)


def test_logged_terms_belong_to_the_returned_image(content64, style64):
    config = Config(size=64, optimizer=OptimizerSettings(iterations=8, tolerance=0))
    stylizer = Stylizer([style64], config)
    result = stylizer.stylize(content64)
    loss, terms, _ = stylizer.loss_function(content64)(result.image)
    assert result.loss == pytest.approx(loss, rel=1e-5)
    assert all(result.terms[k] == pytest.approx(v, rel=1e-4, abs=1e-6) for k, v in terms.items())


def test_large_images_keep_fewer_correction_pairs():
    from vidstyle.lbfgs import history_pairs

    assert history_pairs(10, 1920 * 1080) == 10
    assert history_pairs(10, 3840 * 2160) == 5  # 4K: the history would take 4 GB
    assert history_pairs(10, 7680 * 4320) == 3  # never fewer than 3
    assert history_pairs(2, 7680 * 4320) == 2  # nor more than asked
