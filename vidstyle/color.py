"""Colour preservation (Gatys, Bethge, Hertzmann, Shechtman 2017, "Controlling
Perceptual Factors in Neural Style Transfer", section 5).

Images are float32 RGB in [0, 1], shape (H, W, 3).
"""

from __future__ import annotations

import numpy as np

# RGB → YIQ (NTSC), as used by Gatys et al. for luminance-only transfer.
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.596, -0.274, -0.322],
                       [0.211, -0.523, 0.312]], np.float64)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)
_COVARIANCE_RIDGE = 1e-5  # keeps near-grey images invertible


def _sqrtm(cov: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov + _COVARIANCE_RIDGE * np.eye(3))
    return (vectors * np.maximum(values, _COVARIANCE_RIDGE) ** power) @ vectors.T


def match_colors(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Colour-match the style image to the content ("before" mode).

    Applies the affine map x' = A(x − μ_s) + μ_c with A = Σ_c^{1/2} Σ_s^{−1/2}, so the
    style's pixel mean and covariance equal the content's (Gatys et al. 2017, eq. 5–6,
    the symmetric "image analogies" variant).
    """
    s = style.reshape(-1, 3).astype(np.float64)
    c = content.reshape(-1, 3).astype(np.float64)
    a = _sqrtm(np.cov(c, rowvar=False), 0.5) @ _sqrtm(np.cov(s, rowvar=False), -0.5)
    out = (s - s.mean(0)) @ a.T + c.mean(0)
    return np.clip(out, 0, 1).reshape(style.shape).astype(np.float32)


def transfer_luminance(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Keep the stylized luminance and the content's chrominance ("after" mode, YIQ)."""
    y = stylized.astype(np.float64) @ RGB_TO_YIQ[0]
    iq = content.astype(np.float64) @ RGB_TO_YIQ[1:].T
    yiq = np.concatenate([y[..., None], iq], axis=-1)
    return np.clip(yiq @ YIQ_TO_RGB.T, 0, 1).astype(np.float32)
