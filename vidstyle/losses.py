"""Loss terms as pure functions of tensors (Gatys et al. 2016; Ruder et al. 2016/2018;
Luan et al. 2017).

Shapes: images (B, H, W, 3) in [0, 1]; features (B, H, W, C); Gram matrices (B, C, C);
per-pixel weights (B, H, W, 1) or broadcastable; label masks (K, H, W). Every loss
returns a scalar. `vidstyle.terms` binds each to its weight and constants; the ``*_sum``
functions are the per-tile statistics of the tiled step (`vidstyle.tiling`), whose totals
give the same losses.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from vidstyle.banded import apply_banded

#: Guard of mean(M_k) for a label absent at some layer (Gram 0/0 → 0, not NaN).
MASK_EPSILON = 1e-8


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Gram matrix ``G = FᵀF / (H·W)`` of features (B, H, W, C) → (B, C, C)."""
    shape = tf.shape(features)
    flat = tf.reshape(features, (shape[0], shape[1] * shape[2], shape[3]))
    area = tf.cast(shape[1] * shape[2], features.dtype)
    return tf.linalg.matmul(flat, flat, transpose_a=True) / area


def gram_sum(features: tf.Tensor) -> tf.Tensor:
    """Unnormalized Gram ``FᵀF`` of one image's features (1, h, w, C) → (C, C) (a tile's share)."""
    flat = tf.reshape(features, (-1, features.shape[-1]))
    return tf.linalg.matmul(flat, flat, transpose_a=True)


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of content features (Gatys eq. 1, mean instead of sum)."""
    return tf.reduce_mean(tf.square(features - target))


def squared_error_sum(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """``Σ (F − P)²``: `content_loss` times the number of elements (a tile's share)."""
    return tf.reduce_sum(tf.square(features - target))


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
    mean = tf.maximum(tf.reduce_mean(mask), MASK_EPSILON)  # avoid 0/0 for labels absent at this layer
    return tf.linalg.matmul(flat, flat, transpose_a=True) / (size * mean)


def masked_grams(features: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Normalized Grams of features (1, h, w, C) under K masks (K, h, w) → (K, C, C), (K,).

    ``G_k = (F ⊙ M_k)ᵀ(F ⊙ M_k) / (C·h·w·mean(M_k))``, as `masked_gram_matrix` for every
    k; the second value is mean(M_k).
    """
    shape = tf.shape(features)
    masked = features * masks[..., None]  # (K, h, w, C)
    flat = tf.reshape(masked, (tf.shape(masks)[0], shape[1] * shape[2], shape[3]))
    size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
    means = tf.reduce_mean(masks, axis=[1, 2])
    grams = tf.linalg.matmul(flat, flat, transpose_a=True)
    return grams / (size * tf.maximum(means, MASK_EPSILON))[:, None, None], means


def masked_gram_sum(features: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
    """Unnormalized ``(F ⊙ M_k)ᵀ(F ⊙ M_k)`` of features (1, h, w, C), masks (K, h, w) → (K, C, C).

    A tile's share of `masked_grams`; `masked_grams_from_sum` normalizes the total.
    """
    masked = features * masks[..., None]  # (K, h, w, C)
    flat = tf.reshape(masked, (tf.shape(masked)[0], -1, features.shape[-1]))
    return tf.linalg.matmul(flat, flat, transpose_a=True)


def masked_grams_from_sum(total: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
    """`masked_grams` from the summed `masked_gram_sum` (K, C, C) and the whole masks (K, h, w)."""
    means = tf.reduce_mean(masks, axis=[1, 2])
    channels = float(total.shape[-1])
    area = float(masks.shape[1] * masks.shape[2])
    return total / (channels * area * tf.maximum(means, MASK_EPSILON))[:, None, None]


def segmented_style_loss(features: Mapping[str, tf.Tensor], masks: Mapping[str, tf.Tensor],
                         targets: Mapping[str, tf.Tensor], layer_weights: Mapping[str, float]) -> tf.Tensor:
    """Luan's augmented style loss, all labels at once.

    Parameters
    ----------
    features : {layer: (1, h, w, C)}
        Features F of the image being optimized.
    masks : {layer: (K, h, w)}
        Content masks M_k carried to each layer's grid (`FeatureNet.masks_through`).
    targets : {layer: (K, C, C)}
        Style Grams G_k(a) of the same labels (`masked_grams` of the style).
    layer_weights : {layer: float}
        Weight of each style layer.

    Returns
    -------
    scalar
        ``Σ_l w_l Σ_k s_k · mean((G_k(x) − G_k(a))²)`` with ``G_k = Gram(F ⊙ M_k) /
        (C·h·w·mean(M_k))`` and share ``s_k = mean(M_k) / Σ_j mean(M_j)``.

    Notes
    -----
    Luan weights label k by mean(M_k); for masks that partition the frame the shares
    already sum to 1, and normalizing keeps a region-only style (masks covering part of
    the frame) as strong as a full-frame one. With one all-ones mask this equals
    `style_loss` (our Gram FᵀF/(h·w) divided by C there). Labels absent from the frame
    get share 0 and a finite Gram (mean(M_k) is guarded), never NaN.
    """
    terms = []
    for name, target in targets.items():
        grams, means = masked_grams(features[name], masks[name])
        terms.append(layer_weights[name] * _label_shared_mse(grams, means, target))
    return tf.add_n(terms)


def segmented_style_loss_of_grams(grams: Mapping[str, tf.Tensor], masks: Mapping[str, tf.Tensor],
                                  targets: Mapping[str, tf.Tensor], layer_weights: Mapping[str, float]
                                  ) -> tf.Tensor:
    """`segmented_style_loss` from the image's masked Grams {layer: (K, C, C)} (untiled or summed)."""
    terms = []
    for name, target in targets.items():
        means = tf.reduce_mean(masks[name], axis=[1, 2])
        terms.append(layer_weights[name] * _label_shared_mse(grams[name], means, target))
    return tf.add_n(terms)


def _label_shared_mse(grams: tf.Tensor, means: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """``Σ_k s_k · mean((G_k − T_k)²)`` with shares ``s_k = mean(M_k) / Σ_j mean(M_j)``."""
    share = means / tf.maximum(tf.reduce_sum(means), MASK_EPSILON)
    mse = tf.reduce_mean(tf.square(grams - target), axis=[1, 2])
    return tf.reduce_sum(share * mse)


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
