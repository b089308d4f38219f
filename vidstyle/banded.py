"""Banded matrix times image planes in TensorFlow: the product of the matting term.

A matrix that couples each pixel only with pixels at most ``reach`` rows and columns
away (the Matting Laplacian M_I, `vidstyle.matting.matting_bands`) is stored as one
(H, W) plane per pixel offset; `apply_banded` multiplies it with image planes by
shifted dense products. Dense ops only, so the product is deterministic on every device
(TensorFlow has no deterministic GPU kernel for sparse products), and this module needs
neither scipy nor the host-side matting code.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["apply_banded"]


def apply_banded(bands: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """Product ``M·V_c`` of a banded Laplacian and each channel of an image, in TensorFlow.

    Parameters
    ----------
    bands : ((4r+1)², H, W) tf.Tensor
        M from `vidstyle.matting.matting_bands`, in the dtype of ``v`` (float32 for the loss).
    v : (..., H, W) tf.Tensor
        Image V channels first, e.g. (3, H, W); each (H, W) plane V_c is a vector in
        row-major pixel order.

    Returns
    -------
    (..., H, W) tf.Tensor
        ``(M V_c)[i] = Σ_o bands[o, i] · V_c[i + offset o]``.

    Notes
    -----
    One shifted element-wise product per band, summed with ``add_n``: V is zero-padded by
    2r on each side and sliced at each offset, so a shift never wraps around, and the
    bands are zero wherever the shift left the image. Only dense pad, slice, multiply
    and add ops: deterministic on every device (TensorFlow has no deterministic GPU
    kernel for ``tf.sparse.sparse_dense_matmul``). Channels first keeps the products
    contiguous; at 512×512 this is about as fast on a CPU as the sparse product, and
    with the gradient faster (see benchmarks/bench_matting.py).
    """
    side = math.isqrt(bands.shape[0])
    reach = side // 2  # 2r
    h, w = tf.shape(v)[-2], tf.shape(v)[-1]
    padded = tf.pad(v, [[0, 0]] * (v.shape.rank - 2) + [[reach, reach], [reach, reach]])
    products = []
    for o in range(side * side):
        dy, dx = o // side, o % side  # offset + 2r: where the shifted window starts in `padded`
        products.append(bands[o] * padded[..., dy:dy + h, dx:dx + w])
    return tf.add_n(products)
