"""Optical flow for vidstyle: backends, warping, consistency, long-term weights, I/O, cache.

Conventions used throughout (Ruder et al. 2016, 2018; Middlebury ``.flo``):

* A flow field is a float32 array of shape ``(H, W, 2)`` in pixels; channel 0 is the
  horizontal (x, column) displacement, channel 1 the vertical (y, row) one.
* The flow ``w`` from frame ``a`` to frame ``b`` lives on frame ``a``'s grid and says
  where each pixel of ``a`` is found in ``b``: ``a(x) ≈ b(x + w(x))``. Warping ``b`` with
  it (:func:`flow.warp.warp`) therefore gives an approximation of ``a``.
* File names follow artistic-videos (1-based frame numbers): ``forward_{i}_{j}.flo``,
  ``backward_{j}_{i}.flo``, ``reliable_{j}_{i}.pgm``; see :mod:`flow.io`.

This package never imports ``vidstyle``.
"""

from flow.backends import METHODS, estimate_flow
from flow.cache import FlowCache
from flow.consistency import reliability
from flow.errors import FlowError
from flow.longterm import long_term_weights
from flow.store import ComputeStats, FlowSettings, FlowStore, compute_flows
from flow.warp import warp

__all__ = [
    "METHODS",
    "ComputeStats",
    "FlowCache",
    "FlowError",
    "FlowSettings",
    "FlowStore",
    "compute_flows",
    "estimate_flow",
    "long_term_weights",
    "reliability",
    "warp",
]
