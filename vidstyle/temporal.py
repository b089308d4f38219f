"""Temporal coupling between frames (Ruder et al. 2016, 2018): warped inits, temporal
targets with (long-term) reliability weights, and the multi-pass init blend.

Indices are 0-based frame positions in the selected clip; flows come from a
:class:`flow.FlowStore` (backward ``i → i−o`` warps frame ``i−o`` onto frame ``i``).

Every warp here uses :data:`WARP_INTERPOLATION`, the cubic kernel rather than the
bilinear one of Ruder et al.'s code: each frame starts from, and is held near, the
previous result warped, so whatever the warp smooths away is lost for good and the
loss compounds over the clip. With bilinear warps a 60-frame Big Buck Bunny run lost
a third of its detail; cubic keeps it (measured with benchmarks/drift.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from flow.longterm import long_term_weights
from flow.store import FlowStore
from flow.warp import warp
from vidstyle.stylize import TemporalTarget

FrameLoader = Callable[[int], np.ndarray]

# Kernel of every warp of a stylized frame (flow.warp.INTERPOLATIONS): cubic keeps fine
# texture through the frame-to-frame warp chain, where bilinear blurs it a little more
# every frame (issue 10, "no drift").
WARP_INTERPOLATION = "cubic"


def warped_init(previous: np.ndarray, backward_flow: np.ndarray, content: np.ndarray, *,
                interpolation: str = WARP_INTERPOLATION) -> np.ndarray:
    """Previous stylized frame warped onto this frame; pixels with no source take the content.

    Parameters
    ----------
    previous : (H, W, 3)
        Stylized frame i−1.
    backward_flow : (H, W, 2)
        Flow i → i−1 in pixels (channel 0 = x), on frame i's grid.
    content : (H, W, 3)
        Content frame i, the fallback where the flow points outside frame i−1.
    interpolation : str
        Warp kernel (:data:`flow.warp.INTERPOLATIONS`).
    """
    warped, valid = warp(previous, backward_flow, interpolation=interpolation)
    return np.where(valid[..., None], np.clip(warped, 0, 1), content).astype(np.float32)


def temporal_targets(index: int, stylized: FrameLoader, store: FlowStore, offsets: Sequence[int], *,
                     interpolation: str = WARP_INTERPOLATION) -> list[TemporalTarget]:
    """Short- and long-term temporal targets of frame ``index`` from earlier results.

    For every offset j ∈ J with index − j ≥ 0: ω_j = stylized frame index − j warped onto
    this frame, weighted by c_long_j = max(c_j − Σ_{k∈J, k<j} c_k, 0) (Ruder 2018 eq. 9,
    raw c's); with J = {1} that is the plain reliability c.
    """
    offsets = [j for j in sorted(offsets) if index - j >= 0]
    raw = {j: store.reliability(index, index - j) for j in offsets}
    weights = long_term_weights(raw)
    return [temporal_target(stylized(index - j), store.backward(index, index - j), weights[j],
                            interpolation=interpolation) for j in offsets]


def temporal_target(neighbour: np.ndarray, flow_to_neighbour: np.ndarray, weights: np.ndarray, *,
                    interpolation: str = WARP_INTERPOLATION) -> TemporalTarget:
    """ω = ``neighbour`` warped onto this frame, weighted by c (0 where the flow leaves the frame).

    Parameters
    ----------
    neighbour : (H, W, 3)
        A stylized neighbouring frame.
    flow_to_neighbour : (H, W, 2)
        Flow from this frame to the neighbour, on this frame's grid (pixels, channel 0 = x).
    weights : (H, W)
        Per-pixel weights c of this term (reliability, c_long, or scaled).
    interpolation : str
        Warp kernel (:data:`flow.warp.INTERPOLATIONS`).
    """
    warped, valid = warp(neighbour, flow_to_neighbour, interpolation=interpolation)
    return TemporalTarget(np.clip(warped, 0, 1).astype(np.float32), (weights * valid).astype(np.float32))


def multipass_init(current: np.ndarray, toward: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                   away: tuple[np.ndarray, np.ndarray, np.ndarray] | None, *, a_toward: float,
                   a_away: float, interpolation: str = WARP_INTERPOLATION) -> np.ndarray:
    """Ruder 2018 multi-pass init: x' = (x + a_t c_t W(x_t) + a_a c_a W(x_a)) / (1 + a_t c_t + a_a c_a).

    Parameters
    ----------
    current : (H, W, 3)
        x_i from the previous pass.
    toward, away : (neighbour result, flow from this frame to the neighbour, reliability) or None
        The neighbour in the pass direction (already updated in this pass) and the one
        behind it; None at the clip ends.
    a_toward, a_away : float
        Blend weights (ref. 1.0 and 0.0).
    interpolation : str
        Warp kernel (:data:`flow.warp.INTERPOLATIONS`).
    """
    numerator = current.astype(np.float64).copy()
    denominator = np.ones((*current.shape[:2], 1), np.float64)
    for neighbour, a in ((toward, a_toward), (away, a_away)):
        if neighbour is None or a == 0:
            continue
        image, flow_to_neighbour, reliability = neighbour
        warped, valid = warp(image, flow_to_neighbour, interpolation=interpolation)
        c = (a * reliability * valid)[..., None]
        numerator += c * np.clip(warped, 0, 1)
        denominator += c
    return (numerator / denominator).astype(np.float32)
