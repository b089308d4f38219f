"""Loss terms as pure functions of tensors (Gatys et al. 2016; Ruder et al. 2016/2018).

Shapes: images (B, H, W, 3) in [0, 1]; features (B, H, W, C); Gram matrices (B, C, C);
per-pixel weights (B, H, W, 1) or broadcastable. Every loss returns a scalar.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from vidstyle.banded import apply_banded


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Gram matrix ``G = FᵀF / (H·W)`` of features (B, H, W, C) → (B, C, C)."""
    shape = tf.shape(features)
    flat = tf.reshape(features, (shape[0], shape[1] * shape[2], shape[3]))
    area = tf.cast(shape[1] * shape[2], features.dtype)
    return tf.linalg.matmul(flat, flat, transpose_a=True) / area


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of content features (Gatys eq. 1, mean instead of sum)."""
    return tf.reduce_mean(tf.square(features - target))


def style_loss(grams: Mapping[str, tf.Tensor], targets: Mapping[str, tf.Tensor],
               layer_weights: Mapping[str, float]) -> tf.Tensor:
    """Weighted sum over layers of ``mean((G_l − A_l)²) / C_l²`` (Gatys eq. 4–5, mean form).

    The 1/C_l² factor makes our Gram ``FᵀF/(H·W)`` behave like the reference code's
    ``FᵀF/(C·H·W)`` (Johnson's neural_style, used by Ruder), so equal layer weights mean
    the same balance there and here; without it relu1_1 counts ~400× less than relu4_1.
    """
    terms = []
    for name in targets:
        channels = tf.cast(tf.shape(targets[name])[-1], targets[name].dtype)
        mse = tf.reduce_mean(tf.square(grams[name] - targets[name]))
        terms.append(layer_weights[name] * mse / tf.square(channels))
    return tf.add_n(terms)


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of horizontal and vertical neighbours."""
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_mean(tf.square(dy)) + tf.reduce_mean(tf.square(dx))


def temporal_loss(image: tf.Tensor, warped: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Ruder's temporal loss ``(1/D) Σ_j Σ_k c_jk (x_k − ω_jk)²``, D = H·W·3, summed over targets j.

    Parameters
    ----------
    image : (1, H, W, 3)
        The frame being optimized, x.
    warped : (J, H, W, 3)
        Neighbouring stylized frames warped into this frame, ω_j (short- and long-term).
    weights : (J, H, W, 1)
        Per-pixel reliability c_j ∈ [0, 1] of each flow (0 at disocclusions, motion
        boundaries; c_long for long-term offsets). A target with all-zero weights adds 0.
    """
    size = tf.cast(tf.reduce_prod(tf.shape(image)[1:]), image.dtype)
    return tf.reduce_sum(weights * tf.square(image - warped)) / size


def masked_gram_matrix(features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Gram of features masked by one label (Luan et al. 2017 augmented style loss).

    ``G_k = (F ⊙ M_k)ᵀ(F ⊙ M_k) / (C·H·W·mean(M_k))`` with mask (1, H, W, 1).
    """
    shape = tf.shape(features)
    masked = features * mask
    flat = tf.reshape(masked, (shape[0], shape[1] * shape[2], shape[3]))
    size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
    mean = tf.maximum(tf.reduce_mean(mask), 1e-8)  # avoid 0/0 for labels absent at this layer
    return tf.linalg.matmul(flat, flat, transpose_a=True) / (size * mean)


def matting_loss(image: tf.Tensor, bands: tf.Tensor) -> tf.Tensor:
    """Luan's photorealism term ``Σ_c V_cᵀ M_I V_c`` for a single image (1, H, W, 3).

    ``bands`` ((4r+1)², H, W) is the Matting Laplacian M_I of the content frame in banded
    form (`vidstyle.matting.matting_bands`, float32), applied by
    `vidstyle.banded.apply_banded`: dense ops only, deterministic on every device. The
    gradient is ``2·M_I·V_c`` (M_I is symmetric), returned from the product already
    computed for the energy, so one banded product serves both.
    """
    with tf.name_scope("matting"):

        @tf.custom_gradient
        def energy(v):
            channels = tf.transpose(v, (2, 0, 1))  # (3, H, W): contiguous planes
            mv = apply_banded(bands, channels)

            def grad(upstream):
                return 2.0 * upstream * tf.transpose(mv, (1, 2, 0))

            return tf.reduce_sum(channels * mv), grad

        return energy(image[0])
