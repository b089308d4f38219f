"""Evaluation of stylized videos.

Temporal error (Huang et al. 2017, "Real-Time Neural Style Transfer for Videos", eq. 8):

    E = sqrt( 1 / ((T − 1)·D) · Σ_t Σ_k c_k (x̂_t,k − W(x̂_{t+1})_k)² )

pixels in [0, 1], D = H·W·3, x̂_{t+1} warped back onto frame t with the forward flow
t → t+1, c = 0 at occlusions and motion boundaries.

Sharpness (``benchmarks/drift.py``, the report's drift plot): gradient energy
``G(x) = mean|x[:, 1:] − x[:, :-1]| + mean|x[1:] − x[:-1]|`` of the output over that of
its content frame; a clip whose later frames lose detail shows a falling ratio.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from flow.warp import warp


def temporal_error_terms(frame: np.ndarray, following: np.ndarray, forward_flow: np.ndarray,
                         weights: np.ndarray) -> tuple[float, int]:
    """Σ_k c_k (x̂_t − W(x̂_{t+1}))² over one pair and its D = H·W·3.

    Parameters
    ----------
    frame, following : (H, W, 3) float in [0, 1]
        Stylized frames t and t+1.
    forward_flow : (H, W, 2)
        Flow t → t+1 in pixels (channel 0 = x) on frame t's grid.
    weights : (H, W)
        c ∈ [0, 1]: 0 where occluded or at motion boundaries.
    """
    warped, valid = warp(following.astype(np.float64), forward_flow)
    c = (weights * valid)[..., None]
    return float(np.sum(c * np.square(frame.astype(np.float64) - warped))), frame.size


def temporal_error(frames: Sequence[np.ndarray] | Callable[[int], np.ndarray], count: int,
                   flow_and_weights: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> float:
    """Huang et al. temporal error over a clip of ``count`` frames.

    Parameters
    ----------
    frames : sequence or callable index → (H, W, 3)
        Stylized frames in [0, 1] (a callable streams them from disk).
    count : int
        Number of frames T.
    flow_and_weights : callable t → (forward flow t → t+1, c on frame t's grid)
    """
    get = frames if callable(frames) else frames.__getitem__
    total, size = 0.0, 0
    following = get(0)
    for t in range(count - 1):
        frame, following = following, get(t + 1)
        flow, weights = flow_and_weights(t)
        s, d = temporal_error_terms(frame, following, flow, weights)
        total, size = total + s, size + d
    return float(np.sqrt(total / size)) if size else 0.0


def per_pair_temporal_error(frames: Sequence[np.ndarray] | Callable[[int], np.ndarray], count: int,
                            flow_and_weights: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """The temporal error of each consecutive pair (t, t+1), for plots over time."""
    get = frames if callable(frames) else frames.__getitem__
    errors = []
    for t in range(count - 1):
        flow, weights = flow_and_weights(t)
        s, d = temporal_error_terms(get(t), get(t + 1), flow, weights)
        errors.append(float(np.sqrt(s / d)))
    return errors


def gradient_energy(image: np.ndarray) -> float:
    """G(x) = mean|∂x| + mean|∂y| with forward differences over every channel.

    Forward rather than central differences (``np.gradient``): a central difference is
    blind to the Nyquist frequency, which is exactly what repeated interpolation removes.

    Parameters
    ----------
    image : (H, W) or (H, W, C) array
        Pixels in [0, 1].
    """
    image = np.asarray(image, dtype=np.float64)
    return float(np.abs(np.diff(image, axis=1)).mean() + np.abs(np.diff(image, axis=0)).mean())


def sharpness(output: np.ndarray, content: np.ndarray) -> float:
    """S = G(output) / G(content): detail of a stylized frame relative to its input frame.

    Dividing by the input's G makes frames of different content comparable; S over a clip
    that keeps its detail stays level.
    """
    return gradient_energy(output) / max(gradient_energy(content), 1e-8)
