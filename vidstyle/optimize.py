"""Host-side minimizers over an image: scipy L-BFGS-B (bounds [0, 1]) or Adam, with early stop.

The default optimizer is the in-graph L-BFGS of :mod:`vidstyle.lbfgs`; these two run the
loop in Python (``--optimizer scipy-lbfgs`` / ``adam``). Both take a ``loss_and_grad``
callable (float32 image → loss, named terms, gradient) and report progress through a
callback that receives a :class:`Step` per iteration; the CLI turns those into progress
bars and logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from vidstyle.config import OptimizerSettings

LossAndGrad = Callable[[np.ndarray], tuple[float, dict[str, float], np.ndarray]]

#: Iterations per compiled call of the in-graph L-BFGS when nobody needs intermediate
#: images more often (progress is reported once per call).
ITERATIONS_PER_CALL = 10

# Adam moments (Kingma & Ba 2015 defaults).
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class Step:
    """Progress of one optimizer iteration."""

    iteration: int
    iterations: int
    loss: float
    terms: dict[str, float]
    elapsed: float
    level: int = 1  # coarse-to-fine pyramid level, 1-based
    levels: int = 1
    image: np.ndarray | None = field(default=None, repr=False)  # current iterate (H, W, 3)


@dataclass
class Result:
    """Outcome of one minimization."""

    image: np.ndarray
    iterations: int
    loss: float
    terms: dict[str, float]
    seconds: float
    stopped_early: bool = False
    history: list[float] = field(default_factory=list)
    # "budget", "converged" (early stop), "stalled" (no decrease found) or
    # "evaluations" (scipy's cap on loss evaluations, MAX_EVALUATIONS_PER_ITERATION)
    stop_reason: str = "budget"


class _EarlyStop:
    """Relative loss change < tolerance over ``window`` iterations (Ruder et al.)."""

    def __init__(self, tolerance: float, window: int):
        self.tolerance, self.window, self.history = tolerance, window, []

    def __call__(self, loss: float) -> bool:
        self.history.append(loss)
        if self.tolerance <= 0 or len(self.history) <= self.window:
            return False
        old = self.history[-1 - self.window]
        return abs(old - loss) <= self.tolerance * max(abs(loss), 1e-30)


def minimize(loss_and_grad: LossAndGrad, x0: np.ndarray, settings: OptimizerSettings, *,
             iterations: int, callback: Callable[[Step], None] | None = None,
             stop: tuple[float, int] | None = None) -> Result:
    """Minimize over an image x ∈ [0, 1]^(H×W×3) starting from ``x0``.

    Parameters
    ----------
    loss_and_grad : callable
        float32 (H, W, 3) → (loss, {term: value}, gradient (H, W, 3)).
    x0 : (H, W, 3) array
        Initial image in [0, 1].
    settings : OptimizerSettings
        Optimizer choice, learning rate, early-stop tolerance and window.
    iterations : int
        Iteration budget.
    callback : callable, optional
        Called with a :class:`Step` after every iteration.
    stop : (float, int), optional
        (tolerance, window) of the early stop instead of the settings' (video frames
        after the first).
    """
    run = _minimize_adam if settings.optimizer == "adam" else _minimize_lbfgs
    early_stop = _EarlyStop(*(stop or (settings.tolerance, settings.window)))
    return run(loss_and_grad, np.clip(np.asarray(x0, np.float32), 0, 1), settings, iterations, callback,
               early_stop)


#: scipy's cap on function evaluations, per iteration of budget: generous, so that only the
#: budget, the early stop or a failed line search end a run (the line search needs 1–3).
MAX_EVALUATIONS_PER_ITERATION = 20


def _minimize_lbfgs(loss_and_grad, x0, settings, iterations, callback, stop: _EarlyStop) -> Result:
    shape, start = x0.shape, time.perf_counter()
    last = {"terms": {}}
    converged = False

    def fun(flat: np.ndarray):
        x = flat.reshape(shape).astype(np.float32)
        loss, terms, grad = loss_and_grad(x)
        last["terms"] = terms
        return float(loss), np.asarray(grad, np.float64).ravel()

    def on_iteration(intermediate_result):
        nonlocal converged
        done = len(stop.history) + 1
        if callback is not None:
            # The last evaluation may be a line-search trial point: report only the accepted loss.
            callback(Step(done, iterations, float(intermediate_result.fun), dict(last["terms"]),
                          time.perf_counter() - start,
                          image=intermediate_result.x.reshape(shape).astype(np.float32)))
        if stop(float(intermediate_result.fun)):
            converged = True
            raise StopIteration

    max_evaluations = iterations * MAX_EVALUATIONS_PER_ITERATION + 20
    result = scipy.optimize.minimize(
        fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
        bounds=scipy.optimize.Bounds(0.0, 1.0), callback=on_iteration,
        # Only our budget and early stop end the run, not scipy's tiny-gradient tests.
        options={"maxiter": iterations, "maxfun": max_evaluations,
                 "maxcor": settings.lbfgs_memory, "ftol": 0.0, "gtol": 0.0})
    image = np.clip(result.x.reshape(shape), 0, 1).astype(np.float32)
    # Loss and terms of the returned image itself (scipy's last evaluation may be a trial point).
    loss, terms, _ = loss_and_grad(image)
    done = len(stop.history)
    if converged:
        reason = "converged"
    elif done >= iterations:
        reason = "budget"
    elif getattr(result, "nfev", 0) >= max_evaluations:
        reason = "evaluations"
    else:
        reason = "stalled"
    return Result(image, done, float(loss), {k: float(v) for k, v in terms.items()},
                  time.perf_counter() - start, converged, stop.history, reason)


def _minimize_adam(loss_and_grad, x0, settings, iterations, callback, stop: _EarlyStop) -> Result:
    start = time.perf_counter()
    x = x0.copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    best, best_loss, terms = x.copy(), np.inf, {}
    stopped = False
    for t in range(1, iterations + 1):
        loss, terms, grad = loss_and_grad(x)
        loss = float(loss)
        if loss < best_loss:
            best, best_loss = x.copy(), loss
        m = ADAM_BETA1 * m + (1 - ADAM_BETA1) * grad
        v = ADAM_BETA2 * v + (1 - ADAM_BETA2) * np.square(grad)
        m_hat = m / (1 - ADAM_BETA1**t)
        v_hat = v / (1 - ADAM_BETA2**t)
        x = np.clip(x - settings.learning_rate * m_hat / (np.sqrt(v_hat) + ADAM_EPSILON), 0, 1).astype(np.float32)
        if callback is not None:
            callback(Step(t, iterations, loss, dict(terms), time.perf_counter() - start, image=x))
        if stop(loss):
            stopped = True
            break
    return Result(best, len(stop.history), best_loss, terms, time.perf_counter() - start, stopped, stop.history,
                  "converged" if stopped else "budget")
