"""Long-term temporal weights (Ruder et al. 2016, eq. 9; Ruder et al. 2018, sec. 4.2)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from flow.errors import FlowError

__all__ = ["long_term_weights"]


def long_term_weights(reliabilities: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Long-term weights ``c_long`` from the reliabilities of several frame offsets.

    For frame ``i`` and the set ``J`` of offsets (e.g. ``{1, 2, 4}``), Ruder et al. 2016,
    eq. 9 define

    .. math:: c_{long}^{(i-j, i)} = \\max\\Big(c^{(i-j, i)} - \\sum_{k \\in J, k < j}
              c^{(i-k, i)},\\ 0\\Big)

    with the *raw* reliabilities ``c`` subtracted (the paper formula; the reference Lua
    code subtracts in place, i.e. already-reduced weights, which we do not follow). Each
    pixel thus leans on the closest frame where it is reliable, and the weights of one
    pixel sum to at most 1: if ``j`` is the largest offset with positive weight, every
    earlier ``c_long_k <= c_k``, so the sum is at most ``c_j <= 1``.

    Parameters
    ----------
    reliabilities : Mapping[int, np.ndarray]
        Offset ``j >= 1`` -> ``c^(i-j, i)``, ``(H, W)`` in ``[0, 1]``, all on frame
        ``i``'s grid (the reliability of the backward flow ``i -> i-j``).

    Returns
    -------
    dict[int, np.ndarray]
        Offset -> ``(H, W)`` float32 ``c_long``, in ascending offset order.

    Raises
    ------
    FlowError
        Non-positive offsets, empty input, or maps of different shapes.
    """
    if not reliabilities:
        raise FlowError("long-term weights need at least one offset with a reliability map")
    offsets = sorted(reliabilities)
    if any(int(offset) != offset or offset < 1 for offset in offsets):
        raise FlowError(f"long-term offsets must be positive integers; got {offsets}")
    shapes = {np.shape(reliabilities[offset]) for offset in offsets}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise FlowError(
            f"reliability maps must all be (H, W) of one size; got shapes {sorted(shapes)}"
        )
    weights: dict[int, np.ndarray] = {}
    earlier = np.zeros(next(iter(shapes)), dtype=np.float64)
    for offset in offsets:
        raw = np.asarray(reliabilities[offset], dtype=np.float64)
        weights[offset] = np.maximum(raw - earlier, 0.0).astype(np.float32)
        earlier += raw
    return weights
