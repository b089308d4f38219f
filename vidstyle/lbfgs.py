"""Projected L-BFGS over an image in [0, 1], run inside one compiled TensorFlow function.

The whole iteration — two-loop recursion, projection onto the box, backtracking line
search, memory update and the early-stop test — is a ``tf.while_loop``, so one call runs
many iterations with no host round trip (a GPU never waits for Python). The Python
driver only calls it once per chunk of iterations to report progress.

Bounds are handled the way projected quasi-Newton methods for images usually do
(Bertsekas 1982; Kim, Sra & Dhillon 2010): variables at a bound whose gradient pushes
them outward are held (their gradient and step are zeroed), the quasi-Newton step of
the others is projected back into [0, 1], and a weak-Wolfe search (Armijo backtracking with quadratic interpolation,
Nocedal & Wright alg. 3.5, growing the step while the slope stays steep) on the
projected path accepts it.

References
----------
J. Nocedal, S. Wright, "Numerical Optimization", 2nd ed., Springer 2006, alg. 7.4
(two-loop recursion), sec. 3.5 (interpolating line search).
D. Kim, S. Sra, I. Dhillon, "Tackling box-constrained optimization via a new projected
quasi-Newton approach", SIAM J. Sci. Comput. 32 (2010), :DOI:`10.1137/08073812X`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vidstyle.optimize import ITERATIONS_PER_CALL, Result, Step

#: Armijo sufficient-decrease constant c1 (Nocedal & Wright: 1e-4).
ARMIJO_C1 = 1e-4
#: Curvature constant c2 of the weak Wolfe condition (Nocedal & Wright: 0.9 for quasi-Newton).
WOLFE_C2 = 0.9
#: The first EARLY_ITERATIONS use a stricter c2 (measured: faster per second than 0.9 throughout).
EARLY_ITERATIONS, EARLY_WOLFE_C2 = 5, 0.1
#: Line-search trials before an iteration gives up (memory reset, then a stall).
MAX_LINE_SEARCH = 12
#: First step (no curvature memory yet): the largest pixel moves by this much.
FIRST_STEP = 0.05

# Why a run ended; logged per frame.
RUNNING, CONVERGED, STALLED = 0, 1, 2
STOP_REASONS = {RUNNING: "budget", CONVERGED: "converged", STALLED: "stalled"}

Objective = Callable[..., tuple[tf.Tensor, dict[str, tf.Tensor], tf.Tensor]]


@dataclass
class _State:
    """Everything one iteration needs from the last (all tensors, one structure)."""

    x: tf.Tensor  # (H, W, 3) current iterate
    f: tf.Tensor  # () loss at x
    g: tf.Tensor  # (H, W, 3) gradient at x
    terms: dict[str, tf.Tensor]  # named loss terms at x
    s: tuple  # m tensors (H, W, 3): steps, oldest first
    y: tuple  # m tensors (H, W, 3): gradient changes
    rho: tf.Tensor  # (m,) 1 / sᵀy, 0 for empty slots
    gamma: tf.Tensor  # () initial inverse-Hessian scale sᵀy / yᵀy
    recent: tf.Tensor  # (window + 1,) last losses, newest last (early stop)
    done: tf.Tensor  # () int32 iterations done in this run
    status: tf.Tensor  # () int32 RUNNING / CONVERGED / STALLED

    def flat(self):
        return (self.x, self.f, self.g, self.terms, self.s, self.y, self.rho, self.gamma, self.recent,
                self.done, self.status)


#: Bytes the correction pairs may take: float32 s and y, held twice while a compiled
#: chunk runs (its input state and the loop's). 10 pairs fit up to ~4 MP; a 4K frame keeps 5.
HISTORY_BUDGET_BYTES = 2e9
#: Fewest correction pairs kept, however large the image.
MIN_HISTORY_PAIRS = 3


def history_pairs(memory: int, pixels: int) -> int:
    """Correction pairs kept for an image of ``pixels``: ``memory`` unless that exceeds the budget."""
    fit = int(HISTORY_BUDGET_BYTES // (2 * 2 * 3 * 4 * pixels))
    return max(min(memory, MIN_HISTORY_PAIRS), min(memory, fit))


def _dot(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(a * b)


def _two_loop(gradient: tf.Tensor, s, y, rho: tf.Tensor, gamma: tf.Tensor) -> tf.Tensor:
    """H·gradient by the L-BFGS two-loop recursion; empty slots (ρ = 0) drop out."""
    m = len(s)
    q = gradient
    alphas = [None] * m
    for j in reversed(range(m)):  # newest first
        alphas[j] = rho[j] * _dot(s[j], q)
        q = q - alphas[j] * y[j]
    r = gamma * q
    for j in range(m):  # oldest first
        beta = rho[j] * _dot(y[j], r)
        r = r + s[j] * (alphas[j] - beta)
    return r


class InGraphLBFGS:
    """Bounded L-BFGS over an image, compiled around ``objective``.

    Parameters
    ----------
    objective : callable
        ``objective(x, *args) → (total, {name: term}, gradient)`` on TF tensors, x of
        shape (H, W, 3); ``args`` are the per-image constants (targets, masks ...), passed
        as arguments so a new frame of the same size reuses the compiled function.
    memory : int
        Number m of correction pairs kept (scipy's ``maxcor``; 10 as there). Large images
        keep fewer (:func:`history_pairs`).
    """

    def __init__(self, objective: Objective, *, memory: int = 10):
        self.objective = objective
        self.memory = memory
        # One concrete trace per shape, as the Stylizer's step (exact resume).
        self._start = tf.function(self._start_state)
        self._chunk = tf.function(self._run_chunk)

    # ---- compiled pieces -------------------------------------------------------------
    def _start_state(self, x, window, args):
        f, terms, g = self.objective(x, *args)
        memory = history_pairs(self.memory, int(x.shape[0]) * int(x.shape[1]))
        zeros = tuple(tf.zeros_like(x) for _ in range(memory))
        recent = tf.fill([window + 1], tf.constant(np.nan, x.dtype))
        return _State(x, f, g, terms, zeros, tuple(tf.zeros_like(x) for _ in range(memory)),
                      tf.zeros((memory,), x.dtype),
                      tf.constant(1.0, x.dtype), recent, tf.constant(0), tf.constant(RUNNING)).flat()

    def _line_search(self, state: _State, d, gd, step, c2, args):
        """Weak-Wolfe search on the projected path x(t) = clip(x + t·d, 0, 1).

        Returns (x, f, terms, g, found) of the accepted point, or of the start point when
        no t satisfied the Armijo condition (found False).

        Shrinks t (quadratic interpolation) until the Armijo condition holds; while it holds
        but the slope is still steep (curvature condition unmet) and no failing t is known,
        it grows t ×4 instead, keeping the last acceptable point. Growing matters early,
        when the curvature memory underestimates the step.
        """
        def trial(t):
            x_new = tf.clip_by_value(state.x + t * d, 0.0, 1.0)
            f_new, terms_new, g_new = self.objective(x_new, *args)
            decrease = _dot(state.g, x_new - state.x)  # directional derivative on the projected path
            armijo = tf.logical_and(tf.math.is_finite(f_new), f_new <= state.f + ARMIJO_C1 * decrease)
            flat = _dot(g_new, d) >= c2 * gd  # slope flattened enough: no point in growing t
            return x_new, f_new, terms_new, g_new, armijo, flat

        def cond(k, t, best, found, bracketed, finished):
            return tf.logical_and(tf.logical_not(finished), k < MAX_LINE_SEARCH)

        def body(k, t, best, found, bracketed, finished):
            x_new, f_new, terms_new, g_new, armijo, flat = trial(t)
            candidate = (x_new, f_new, terms_new, g_new)
            best = tf.nest.map_structure(lambda a, b: tf.where(armijo, a, b), candidate, best)
            found = tf.logical_or(found, armijo)
            bracketed = tf.logical_or(bracketed, tf.logical_not(armijo))
            finished = tf.logical_or(tf.logical_and(armijo, tf.logical_or(flat, bracketed)),
                                     tf.logical_and(tf.logical_not(armijo), found))
            # Minimizer of the quadratic through f(0), f'(0) and f(t), kept in [0.1 t, 0.5 t].
            curvature = 2.0 * (f_new - state.f - gd * t)
            usable = tf.logical_and(tf.math.is_finite(f_new), curvature > 0)
            shrunk = tf.clip_by_value(tf.where(usable, -gd * t * t / curvature, 0.5 * t), 0.1 * t, 0.5 * t)
            t = tf.where(armijo, 4.0 * t, shrunk)
            return k + 1, t, best, found, bracketed, finished

        start = (state.x, state.f, state.terms, state.g)
        false = tf.constant(False)
        _, _, best, found, _, _ = tf.while_loop(cond, body, (tf.constant(0), step, start, false, false, false))
        return (*best, found)

    def _iteration(self, state: _State, tolerance, args) -> _State:
        x, g = state.x, state.g
        # Hold pixels at a bound whose gradient pushes them out of [0, 1].
        held = tf.logical_or(tf.logical_and(x <= 0.0, g > 0.0), tf.logical_and(x >= 1.0, g < 0.0))
        free = tf.cast(tf.logical_not(held), x.dtype)
        g_free = g * free
        has_memory = tf.reduce_any(state.rho > 0)
        d = -_two_loop(g_free, state.s, state.y, state.rho, state.gamma) * free
        gd = _dot(g, d)
        # Not a descent direction (stale curvature after the projection): steepest descent.
        use_memory = tf.logical_and(has_memory, gd < 0)
        d = tf.where(use_memory, d, -g_free)
        gd = tf.where(use_memory, gd, -_dot(g_free, g_free))
        step = tf.where(use_memory, tf.constant(1.0, x.dtype),
                        FIRST_STEP / tf.maximum(tf.reduce_max(tf.abs(d)), 1e-30))

        # Early on the curvature memory underestimates steps: grow them until the slope has
        # mostly flattened (c2 = 0.1); afterwards the usual quasi-Newton c2 = 0.9.
        c2 = tf.where(state.done < EARLY_ITERATIONS, EARLY_WOLFE_C2, WOLFE_C2)
        x_new, f_new, terms_new, g_new, ok = self._line_search(state, d, gd, step, c2, args)
        s_k, y_k = x_new - x, g_new - g
        sy, yy = _dot(s_k, y_k), _dot(y_k, y_k)
        # Keep the pair only with positive curvature (the update must stay positive definite).
        keep = tf.logical_and(ok, sy > 1e-10 * yy)
        # The history is m separate images, so a push only passes references on (a stacked
        # (m, H, W, 3) tensor would be copied whole every iteration: 1 GB at 4K).
        def push(history, item):
            return tf.cond(keep, lambda: (*history[1:], item), lambda: tuple(history))

        s, y = push(state.s, s_k), push(state.y, y_k)
        rho = tf.where(keep, tf.concat([state.rho[1:], [1.0 / tf.maximum(sy, 1e-30)]], 0), state.rho)
        gamma = tf.where(keep, sy / tf.maximum(yy, 1e-30), state.gamma)
        # A failed search with memory: forget the curvature and retry from the gradient;
        # without memory the objective cannot be decreased along it: stalled.
        failed_with_memory = tf.logical_and(tf.logical_not(ok), use_memory)
        def forget(history):
            return tf.cond(failed_with_memory, lambda: tuple(tf.zeros_like(h) for h in history), lambda: history)

        s, y = forget(s), forget(y)
        rho = tf.where(failed_with_memory, tf.zeros_like(rho), rho)

        # A failed search returns the start point itself, so x, f, g and terms need no guard.
        x, f, g, terms = x_new, f_new, g_new, terms_new
        recent = tf.concat([state.recent[1:], [f]], 0)
        done = state.done + 1
        # Ruder's early stop: relative change < tolerance over the window.
        oldest = recent[0]
        converged = tf.logical_and(tf.math.is_finite(oldest),
                                   tf.abs(oldest - f) <= tolerance * tf.maximum(tf.abs(f), 1e-30))
        converged = tf.logical_and(converged, tolerance > 0)
        stalled = tf.logical_and(tf.logical_not(ok), tf.logical_not(use_memory))
        status = tf.where(converged, CONVERGED, tf.where(stalled, STALLED, RUNNING))
        return _State(x, f, g, terms, s, y, rho, gamma, recent, done, status)

    def _run_chunk(self, flat_state, iterations, tolerance, args):
        """Up to ``iterations`` iterations; returns the state and per-iteration losses/terms."""
        state = _State(*flat_state)
        losses = tf.TensorArray(state.f.dtype, size=iterations)
        terms = {k: tf.TensorArray(v.dtype, size=iterations) for k, v in state.terms.items()}

        def cond(k, flat, losses, terms):
            return tf.logical_and(k < iterations, tf.equal(flat[-1], RUNNING))

        def body(k, flat, losses, terms):
            new = self._iteration(_State(*flat), tolerance, args)
            losses = losses.write(k, new.f)
            terms = {name: ta.write(k, new.terms[name]) for name, ta in terms.items()}
            return k + 1, new.flat(), losses, terms

        k, flat, losses, terms = tf.while_loop(cond, body, (tf.constant(0), state.flat(), losses, terms))
        return flat, k, losses.stack(), {name: ta.stack() for name, ta in terms.items()}

    # ---- driver ------------------------------------------------------------------------
    def minimize(self, x0: np.ndarray, args: tuple, *, iterations: int, tolerance: float, window: int,
                 callback: Callable[[Step], None] | None = None, report_every: int = ITERATIONS_PER_CALL
                 ) -> Result:
        """Minimize from ``x0`` (H, W, 3) in [0, 1] for at most ``iterations`` iterations.

        Early stop (Ruder et al.): the loss changed by less than ``tolerance`` (relative)
        over ``window`` iterations; 0 disables it. ``callback`` gets one :class:`Step` per
        iteration after each compiled call of ``report_every`` iterations; only the last
        Step of a call carries the image (one host copy per call).
        """
        start = time.perf_counter()
        x = tf.constant(np.clip(np.asarray(x0, np.float32), 0.0, 1.0))
        tol = tf.constant(float(tolerance), tf.float32)
        flat = self._start(x, tf.constant(int(window)), args)
        history: list[float] = []
        count = 0
        while count < iterations and int(flat[-1]) == RUNNING:
            n = min(report_every, iterations - count)
            flat, k, losses, terms = self._chunk(flat, tf.constant(n), tol, args)
            k = int(k)
            losses = losses.numpy()[:k]
            terms = {name: v.numpy()[:k] for name, v in terms.items()}
            history.extend(float(v) for v in losses)
            if callback is not None:
                elapsed = time.perf_counter() - start
                for j in range(k):
                    last = j == k - 1
                    callback(Step(count + j + 1, iterations, float(losses[j]),
                                  {name: float(v[j]) for name, v in terms.items()}, elapsed,
                                  image=flat[0].numpy() if last else None))
            count += k
            if k == 0:
                break
        state = _State(*flat)
        status = int(state.status)
        return Result(state.x.numpy(), count, float(state.f), {k: float(v) for k, v in state.terms.items()},
                      time.perf_counter() - start, status == CONVERGED, history,
                      stop_reason=STOP_REASONS[status])
