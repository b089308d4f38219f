"""Automatic corresponding label maps for a content/style pair.

Both images' pixels are clustered *jointly* with k-means (Lloyd; k-means++ seeding,
Arthur & Vassilvitskii [1]_) in a feature space of CIE Lab colour and normalized image
position, so that one cluster covers e.g. the sky of both images. Before clustering
each image's Lab channels are standardized to zero mean and unit variance (the colour
statistics matching of Reinhard et al. [2]_): a day photo and a sunset reference have
very different absolute colours, but their sky is in both the brightest, smoothest
region near the top. Regions are then cleaned with a mode (majority) filter and small
connected components are merged into their surroundings.

References
----------
.. [1] D. Arthur, S. Vassilvitskii, "k-means++: The Advantages of Careful Seeding",
       SODA 2007.
.. [2] E. Reinhard, M. Ashikhmin, B. Gooch, P. Shirley, "Color Transfer between
       Images", IEEE CG&A 21(5), 2001. :DOI:`10.1109/38.946629`
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.cluster.vq import kmeans2

from segmentation.errors import SegmentationError

__all__ = ["auto_masks"]

logger = logging.getLogger(__name__)

#: Pixels sampled from *each* image to fit the clusters (all pixels are then assigned).
DEFAULT_SAMPLES = 20000
#: Weight of the normalized (y, x) ∈ [0, 1]² position against standardized Lab (unit
#: variance per channel): 2.0 lets position decide between similar colours.
DEFAULT_POSITION_WEIGHT = 2.0
#: Side of the mode filter, as a fraction of the shorter image side.
MODE_FILTER_FRACTION = 0.02
#: Connected regions smaller than this fraction of the image join their neighbours.
MIN_REGION_FRACTION = 0.002
#: A cluster with less than this fraction of one image's pixels counts as absent there.
MIN_SHARED_FRACTION = 0.005
#: Lloyd iterations of k-means.
KMEANS_ITERATIONS = 30


def _features(image: np.ndarray, position_weight: float) -> np.ndarray:
    """(H, W, 3) RGB → (H·W, 5) standardized Lab + weighted normalized (y, x)."""
    lab = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    lab = (lab - lab.mean(axis=0)) / np.maximum(lab.std(axis=0), 1e-6)
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    pos = np.stack([ys.ravel() / max(h - 1, 1), xs.ravel() / max(w - 1, 1)], axis=1)
    return np.hstack([lab, position_weight * pos]).astype(np.float64)


def _assign(features: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for every row of ``features``."""
    d = (
        np.sum(features**2, axis=1)[:, None]
        - 2.0 * features @ centres.T
        + np.sum(centres**2, axis=1)[None, :]
    )
    return np.argmin(d, axis=1)


def _mode_filter(labels: np.ndarray, n_labels: int, size: int) -> np.ndarray:
    """Majority label in a size×size window (box-filtered one-hot maps, argmax)."""
    if size < 3:
        return labels
    votes = np.stack(
        [cv2.blur((labels == k).astype(np.float32), (size, size)) for k in range(n_labels)]
    )
    return np.argmax(votes, axis=0).astype(labels.dtype)


def _merge_small_regions(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Relabel connected components below ``min_size`` pixels from the nearest larger one."""
    small = np.zeros(labels.shape, dtype=bool)
    for k in np.unique(labels):
        components, n = ndi.label(labels == k)
        if n == 0:
            continue
        sizes = np.bincount(components.ravel())
        sizes[0] = labels.size  # background of this label's map: never "small"
        small |= sizes[components] < min_size
    if small.any() and not small.all():
        _, (iy, ix) = ndi.distance_transform_edt(small, return_indices=True)
        labels = labels[iy, ix]
    return labels


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
        raise SegmentationError(f"{name} must be RGB of shape (H, W, 3); got {image.shape}.")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if not np.issubdtype(image.dtype, np.floating) or not np.all(np.isfinite(image)):
        raise SegmentationError(f"{name} must be uint8 or finite float in [0, 1].")
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def auto_masks(
    content: np.ndarray,
    style: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    samples: int = DEFAULT_SAMPLES,
    position_weight: float = DEFAULT_POSITION_WEIGHT,
) -> tuple[np.ndarray, np.ndarray]:
    """Label maps for a content and a style image whose labels correspond.

    Parameters
    ----------
    content : (H, W, 3) ndarray
        Content image, RGB uint8 or float in [0, 1].
    style : (H', W', 3) ndarray
        Style image, any size.
    k : int
        Number of clusters K (2–9: the result must fit the mask palette).
    seed : int, optional
        Seed of pixel sampling and k-means++; equal seeds give equal results.
    samples : int, optional
        Pixels drawn from each image to fit the clusters.
    position_weight : float, optional
        Weight of the normalized position against the standardized colour.

    Returns
    -------
    content_labels : (H, W) int32 ndarray
    style_labels : (H', W') int32 ndarray
        Labels 0 … K'−1 with K' ≤ K; label j denotes the same cluster in both maps.

    Notes
    -----
    Clusters holding less than 0.5 % of the pixels of either image are merged into the
    nearest (in feature space) cluster present in both, so every returned label occurs
    in both images whenever the images share at least one cluster; labels are then
    renumbered consecutively by the order of their first pixel in the content image.
    """
    content = _check_image(content, "content")
    style = _check_image(style, "style")
    if isinstance(k, bool) or int(k) != k or not 2 <= k <= 9:
        raise SegmentationError(f"k must be an integer in 2..9 (the mask palette); got {k!r}.")
    if samples < 10 * k or position_weight < 0:
        raise SegmentationError(
            f"samples must be >= 10·k and position_weight >= 0; got {samples}, "
            f"{position_weight}."
        )
    k = int(k)
    rng = np.random.default_rng(seed)
    feats = [_features(im, position_weight) for im in (content, style)]
    fit = np.vstack(
        [f[rng.choice(len(f), size=min(samples, len(f)), replace=False)] for f in feats]
    )
    centres, _ = kmeans2(fit, k, iter=KMEANS_ITERATIONS, minit="++", seed=rng)
    maps = [_assign(f, centres).reshape(im.shape[:2]) for f, im in zip(feats, (content, style), strict=True)]

    # Clusters present in only one image → nearest cluster present in both.
    fractions = np.stack([np.bincount(m.ravel(), minlength=k) / m.size for m in maps])
    shared = np.flatnonzero(fractions.min(axis=0) >= MIN_SHARED_FRACTION)
    if shared.size == 0:
        logger.warning("auto_masks: content and style share no cluster; using one label")
        shared = np.array([int(np.argmax(fractions.sum(axis=0)))])
    dist = np.linalg.norm(centres[:, None, :] - centres[None, shared, :], axis=-1)
    remap = shared[np.argmin(dist, axis=1)]
    maps = [remap[m] for m in maps]

    cleaned = []
    for m in maps:
        size = round(MODE_FILTER_FRACTION * min(m.shape)) | 1  # odd
        m = _mode_filter(m, k, size)
        cleaned.append(_merge_small_regions(m, int(MIN_REGION_FRACTION * m.size)))

    # Consecutive labels, ordered by first appearance (content first, then style).
    order = list(dict.fromkeys(np.concatenate([cleaned[0].ravel(), cleaned[1].ravel()])))
    lookup = np.zeros(k, dtype=np.int32)
    lookup[np.array(order)] = np.arange(len(order), dtype=np.int32)
    return lookup[cleaned[0]], lookup[cleaned[1]]
