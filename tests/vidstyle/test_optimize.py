"""Host-side optimizers (scipy's L-BFGS-B, Adam): stop reasons and the reported loss."""

from __future__ import annotations

import numpy as np

from vidstyle.config import OptimizerSettings
from vidstyle.optimize import minimize

TARGET = np.random.default_rng(1).uniform(0.1, 0.9, (5, 6, 3)).astype(np.float32)


def _quadratic(x):
    residual = x - TARGET
    value = float(np.sum(residual**2))
    return value, {"fit": value}, 2 * residual


def test_reported_loss_and_terms_belong_to_the_returned_image():
    result = minimize(_quadratic, np.full_like(TARGET, 0.5), OptimizerSettings(optimizer="scipy-lbfgs"),
                      iterations=3, stop=(0.0, 1))
    loss, terms, _ = _quadratic(result.image)
    assert result.loss == loss and result.terms == terms
    assert result.stop_reason == "budget" and not result.stopped_early


def test_a_failed_line_search_is_not_logged_as_an_early_stop():
    calls = {"n": 0}

    def misleading(x):  # a true gradient for a few evaluations, then one that points uphill
        calls["n"] += 1
        value, terms, grad = _quadratic(x)
        return value, terms, grad if calls["n"] <= 4 else -grad

    result = minimize(misleading, np.full_like(TARGET, 0.5), OptimizerSettings(optimizer="scipy-lbfgs"),
                      iterations=50, stop=(1e-12, 1))
    assert result.iterations < 50
    assert result.stop_reason == "stalled" and not result.stopped_early


def test_early_stop_is_reported_as_converged():
    def offset(x):  # a floor of 1 makes the relative change small once the fit is close
        value, terms, grad = _quadratic(x)
        return value + 1.0, terms, grad

    result = minimize(offset, np.full_like(TARGET, 0.5), OptimizerSettings(optimizer="scipy-lbfgs"),
                      iterations=200, stop=(1e-3, 1))
    assert result.stop_reason == "converged" and result.stopped_early and result.iterations < 200
