"""Guided upsampling: a stylized frame at the working size back to the plate's size.

Plain Lanczos upsampling of a 256 px result to a 2K plate gives a soft picture whose edges
sit wherever the small picture put them. Here the full-size plate guides the upsampling:

1. fit, at the working size, a local affine colour map from the (downscaled) plate ``p`` to
   the stylized frame ``x`` — the colour guided filter's coefficients (He et al., "Guided
   Image Filtering", TPAMI 2013, eq. 14–15), ``x_c ≈ Σ_k A_ck p_k + b_c`` in every
   ``(2r+1)²`` window, regularized by ``ε``;
2. average the coefficients over the windows and upsample them bilinearly, as the fast
   guided filter does (He & Sun, "Fast Guided Filter", arXiv:1505.00996);
3. output = ``Lanczos(x) + A↑ · (P − Lanczos(p))``: the stylized frame upsampled plainly,
   plus the plate's own fine detail ``P − Lanczos(p)`` (what downscaling removed: edges,
   fine texture) mapped through the local colour map.

Where the stylization follows the plate's edges (``A`` large) the plate's sharp edge comes
back at its exact place; where the style painted over the content (``A ≈ 0``) nothing of the
plate is added. Because the added detail has (almost) no low frequencies, the result
downscaled is still the stylized frame. Measured against plain Lanczos in
``benchmarks/bench_upsample.py`` (RESULTS.md, "Guided upsampling").
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["DEFAULT_EPSILON", "DEFAULT_RADIUS", "guided_upsample", "lanczos_upsample"]

#: Window radius r (pixels at the working size) of the local colour map.
DEFAULT_RADIUS = 2
#: Regularization ε of the colour map (pixel values in [0, 1]): edges weaker than about √ε
#: (≈ 3 % of the range) are not transferred.
DEFAULT_EPSILON = 1e-3


def lanczos_upsample(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize a float image to ``size_hw`` with Lanczos-4 (8×8 taps), float32, not clipped."""
    h, w = size_hw
    out = cv2.resize(np.asarray(image, np.float32), (w, h), interpolation=cv2.INTER_LANCZOS4)
    return out[:, :, None] if out.ndim == 2 else out


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over (2r+1)² windows (edges reflected), any channel count, float32."""
    flat = image.reshape(*image.shape[:2], -1)
    out = np.empty_like(flat, dtype=np.float32)
    size = (2 * radius + 1, 2 * radius + 1)
    for start in range(0, flat.shape[2], 4):  # OpenCV filters up to 4 channels at once
        part = np.ascontiguousarray(flat[:, :, start:start + 4], dtype=np.float32)
        filtered = cv2.boxFilter(part, -1, size, normalize=True, borderType=cv2.BORDER_REFLECT)
        out[:, :, start:start + 4] = filtered.reshape(*flat.shape[:2], -1)
    return out.reshape(image.shape)


def _colour_map(guide: np.ndarray, target: np.ndarray, radius: int, epsilon: float) -> np.ndarray:
    """Window-averaged slopes A (H, W, 3, 3) of the colour guided filter, target ≈ A·guide + b."""
    mean_i = _box(guide, radius)  # (h, w, 3)
    mean_t = _box(target, radius)
    corr_ii = _box(guide[:, :, :, None] * guide[:, :, None, :], radius)  # (h, w, 3, 3)
    corr_ti = _box(target[:, :, :, None] * guide[:, :, None, :], radius)  # (h, w, c, k)
    cov_ii = corr_ii - mean_i[:, :, :, None] * mean_i[:, :, None, :]
    cov_ti = corr_ti - mean_t[:, :, :, None] * mean_i[:, :, None, :]
    sigma = cov_ii + epsilon * np.eye(3, dtype=np.float32)
    slopes = cov_ti @ np.linalg.inv(sigma)  # A_c = cov(x_c, p) Σ⁻¹  (Σ symmetric)
    return _box(slopes.astype(np.float32), radius)


def guided_upsample(stylized: np.ndarray, plate: np.ndarray, *, radius: int = DEFAULT_RADIUS,
                    epsilon: float = DEFAULT_EPSILON) -> np.ndarray:
    """Upsample a stylized frame to the plate's size, edges and fine detail from the plate.

    Parameters
    ----------
    stylized : (h, w, 3) float in [0, 1]
        The stylized frame x at the working size.
    plate : (H, W, 3) float in [0, 1]
        The plate P at its own size (H ≥ h, W ≥ w), in the same colour encoding as the
        frame the stylization started from (straight display-referred sRGB).
    radius : int
        Window radius r of the local colour map, in working-size pixels (≥ 1).
    epsilon : float
        Regularization ε of the colour map (> 0); larger transfers only stronger edges.

    Returns
    -------
    (H, W, 3) float32 in [0, 1]
        ``Lanczos(x) + A↑ · (P − Lanczos(p))`` with ``p`` the plate downscaled to the
        working size (``INTER_AREA``), clipped to [0, 1]; ``x`` itself when the sizes agree.

    Raises
    ------
    ValueError
        Shapes that are not RGB, a plate smaller than the frame, ``radius < 1`` or ``epsilon <= 0``.
    """
    stylized = np.asarray(stylized, np.float32)
    plate = np.asarray(plate, np.float32)
    if stylized.ndim != 3 or stylized.shape[2] != 3 or plate.ndim != 3 or plate.shape[2] != 3:
        raise ValueError(f"expected (h, w, 3) and (H, W, 3) images, got {stylized.shape} and {plate.shape}")
    (h, w), (big_h, big_w) = stylized.shape[:2], plate.shape[:2]
    if big_h < h or big_w < w:
        raise ValueError(f"the plate ({big_w}x{big_h}) is smaller than the stylized frame ({w}x{h})")
    if radius < 1 or not epsilon > 0:
        raise ValueError(f"radius must be >= 1 and epsilon > 0, got {radius} and {epsilon}")
    if (h, w) == (big_h, big_w):
        return stylized
    small = cv2.resize(plate, (w, h), interpolation=cv2.INTER_AREA)
    slopes = _colour_map(small, stylized, radius, epsilon).reshape(h, w, 9)
    base = lanczos_upsample(stylized, (big_h, big_w))
    detail = plate - lanczos_upsample(small, (big_h, big_w))  # what downscaling took from the plate
    slope = cv2.resize(slopes, (big_w, big_h), interpolation=cv2.INTER_LINEAR).reshape(big_h, big_w, 3, 3)
    out = base + np.einsum("hwck,hwk->hwc", slope, detail)
    return np.clip(out, 0.0, 1.0)
