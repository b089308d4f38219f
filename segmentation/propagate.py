"""Carry a label map from one video frame to the next along the optical flow.

Labels are warped with the backward flow (frame i → frame i−1) by nearest-neighbour
sampling, never interpolated. Where the flow is unreliable (disocclusions, motion
boundaries, pixels entering the frame; the consistency check of Ruder et al. [1]_) the
label is re-derived from the current frame.

References
----------
.. [1] M. Ruder, A. Dosovitskiy, T. Brox, "Artistic Style Transfer for Videos", GCPR
       2016. :DOI:`10.1007/978-3-319-45886-1_3`
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from segmentation.errors import SegmentationError

__all__ = ["propagate_labels", "warp_labels"]

#: Default reliability below which a warped label is not trusted (c ∈ [0, 1]).
DEFAULT_THRESHOLD = 0.5
#: Pixels per unit of RGB distance (values in [0, 1]) in the joint position–colour space
#: used to fill unreliable pixels: a colour difference of 0.1 weighs like 3 pixels.
COLOUR_SCALE = 30.0


def warp_labels(labels: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour backward warp of a label map: ``out(x) = labels(round(x + flow(x)))``.

    Parameters
    ----------
    labels : (H, W) int ndarray
        Labels on the source frame (frame i−1).
    flow : (H, W, 2) float ndarray
        Backward flow on the target grid (frame i → frame i−1), pixels, channel 0 = x.

    Returns
    -------
    warped : (H, W) ndarray, dtype of ``labels``
        Labels on the target frame; pixels without a source hold −1.
    valid : (H, W) bool ndarray
        True where ``round(x + flow(x))`` lies inside the source frame.
    """
    h, w = labels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    with np.errstate(invalid="ignore"):
        sx = np.rint(xs + flow[..., 0])
        sy = np.rint(ys + flow[..., 1])
        valid = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)  # False for NaN
    sx = np.where(valid, sx, 0).astype(np.intp)
    sy = np.where(valid, sy, 0).astype(np.intp)
    warped = np.where(valid, labels[sy, sx], -1).astype(labels.dtype)
    return warped, valid


def _fill_by_neighbours(
    labels: np.ndarray, known: np.ndarray, frame: np.ndarray
) -> np.ndarray:
    """Label unknown pixels from the nearest known pixel in joint (x, y, colour) space."""
    h, w = labels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    feats = np.concatenate(
        [xs[..., None], ys[..., None], COLOUR_SCALE * frame], axis=-1
    ).reshape(-1, 2 + frame.shape[2])
    flat_known = known.ravel()
    tree = cKDTree(feats[flat_known])
    _, nearest = tree.query(feats[~flat_known], k=1)
    out = labels.ravel().copy()
    out[~flat_known] = labels.ravel()[flat_known][nearest]
    return out.reshape(h, w)


def _match_labels(fresh: np.ndarray, warped: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Rename ``fresh`` labels to the warped label they overlap most on known pixels.

    Returns the renamed map with −1 where a fresh label never meets a known pixel.
    """
    values, inverse = np.unique(fresh, return_inverse=True)
    inverse = inverse.reshape(fresh.shape)
    w_values, w_inverse = np.unique(warped[known], return_inverse=True)
    table = np.zeros((len(values), len(w_values)), dtype=np.int64)
    np.add.at(table, (inverse[known], w_inverse), 1)
    names = np.where(table.sum(axis=1) > 0, w_values[np.argmax(table, axis=1)], -1)
    return names[inverse]


def _check_inputs(labels_prev, backward_flow, reliability, frame):
    labels_prev = np.asarray(labels_prev)
    if labels_prev.ndim != 2 or not np.issubdtype(labels_prev.dtype, np.integer):
        raise SegmentationError(
            f"labels_prev must be a 2-D integer label map; got shape {labels_prev.shape}, "
            f"dtype {labels_prev.dtype}."
        )
    shape = labels_prev.shape
    backward_flow = np.asarray(backward_flow, dtype=np.float64)
    reliability = np.asarray(reliability, dtype=np.float64)
    frame = np.asarray(frame)
    if backward_flow.shape != (*shape, 2):
        raise SegmentationError(
            f"backward_flow must have shape {(*shape, 2)} (frame i → i−1, on frame i's "
            f"grid); got {backward_flow.shape}. Compute flows at the label map's size."
        )
    if reliability.shape != shape:
        raise SegmentationError(
            f"reliability must have shape {shape}; got {reliability.shape}."
        )
    if frame.ndim != 3 or frame.shape[:2] != shape:
        raise SegmentationError(
            f"frame must have shape {(*shape, 'C')}; got {frame.shape}."
        )
    frame = frame.astype(np.float64) / (255.0 if frame.dtype == np.uint8 else 1.0)
    return labels_prev, backward_flow, reliability, frame


def propagate_labels(
    labels_prev: np.ndarray,
    backward_flow: np.ndarray,
    reliability: np.ndarray,
    frame: np.ndarray,
    resegment: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> np.ndarray:
    """Labels of frame i from those of frame i−1.

    Parameters
    ----------
    labels_prev : (H, W) int ndarray
        Label map of frame i−1.
    backward_flow : (H, W, 2) float ndarray
        Flow from frame i to frame i−1 on frame i's grid, pixels, channel 0 = x:
        pixel x of frame i shows what frame i−1 shows at x + flow(x).
    reliability : (H, W) float ndarray
        Flow reliability c ∈ [0, 1] of ``backward_flow`` (e.g.
        ``flow.consistency.reliability(backward, forward)``).
    frame : (H, W, C) ndarray
        Frame i (uint8, or float in [0, 1]); used to fill unreliable pixels.
    resegment : callable, optional
        ``resegment(frame) -> (H, W) int labels``, e.g. a GrabCut or `auto_masks`
        wrapper. Its labels need not use the same numbers: each of its labels is renamed
        to the propagated label it overlaps most on reliable pixels.
    threshold : float, optional
        Pixels with reliability below it (or whose source is outside frame i−1) are
        re-labelled (default 0.5).

    Returns
    -------
    (H, W) ndarray, dtype of ``labels_prev``
        Labels of frame i. Reliable pixels carry the warped label exactly.

    Notes
    -----
    Unreliable pixels take the (renamed) label of ``resegment(frame)`` when given.
    Otherwise — and for resegmented labels that overlap no reliable pixel — each takes
    the label of the nearest reliable pixel in the joint space (x, y, 30·RGB): a
    disoccluded pixel joins the nearby region whose colour it shares, not just the
    closest one. If no pixel is reliable the warped labels are returned where they
    exist and `resegment` (or the nearest valid warped label) decides the rest.
    """
    labels_prev, flow, reliability, frame = _check_inputs(
        labels_prev, backward_flow, reliability, frame
    )
    if not 0.0 <= threshold <= 1.0:
        raise SegmentationError(f"threshold must lie in [0, 1]; got {threshold}.")
    warped, valid = warp_labels(labels_prev, flow)
    known = valid & (reliability >= threshold)
    if known.all():
        return warped
    if not known.any():
        known = valid  # nothing reliable: trust the warp where it has a source
    out = warped.copy()
    if resegment is not None:
        fresh = np.asarray(resegment(frame))
        if fresh.shape != labels_prev.shape:
            raise SegmentationError(
                f"resegment returned shape {fresh.shape}; it must return a label map of "
                f"the frame's shape {labels_prev.shape}."
            )
        renamed = _match_labels(fresh, warped, known) if known.any() else fresh
        out[~known] = renamed[~known]
        known = known | (out >= 0)
    if known.all() or not known.any():
        return out
    return _fill_by_neighbours(out, known, frame).astype(labels_prev.dtype)
