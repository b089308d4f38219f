"""Photorealistic style transfer (Luan et al. 2017): segmented style + matting term.

:class:`PhotorealStylizer` extends :class:`vidstyle.stylize.Stylizer` with

* the augmented (segmented) style loss: per label k, Gram matrices of the features
  masked by M_k, with the masks carried through the net (`FeatureNet.masks_through`);
* the photorealism regularizer ``λ Σ_c V_c[O]ᵀ M_I V_c[O]`` with M_I the Matting
  Laplacian of the content frame, kept as its 25 diagonals on the pixel grid
  (`vidstyle.matting.matting_bands`) and applied by shifted dense products
  (`vidstyle.banded.apply_banded`), which are deterministic on every device;
* Luan's two stages per frame (stage 1 without the matting term, stage 2 with it,
  initialized from stage 1), optional closed-form post-smoothing (Li et al. 2018), and
  region-only stylization (a soft-edged blend that keeps pixels outside the region
  exactly equal to the input).

The per-frame content masks and the Laplacian bands are arguments of the compiled loss
step, so a new frame of the same size does not retrace it. A run whose matting weight is 0
(stage 1, coarse pyramid levels, masks or a region without ``--photoreal``) passes None
instead of the bands: that second trace of the step has no matting ops at all, and the
Laplacian is not built. It is built lazily, once per frame (a one-frame cache shared by
stage 2 and later optimizations of the same frame).

Loss balance (λ). Luan's code adds the gradient ``λ M_I V`` with V in [0, 1] (energy
``λ/2 · Σ_c V_cᵀ M_I V_c``, λ = 1e4) to content weight 5 and style weight 1e2 on caffe
VGG19 features. Our defaults (content 1, style 1e6 on [0, 1] pixels and
torchvision-normalized VGG16) keep Ruder's content/style balance, which makes our features
about 1/224 of the caffe ones (1e6·r² = 1e2/5), so our energies are r²/5 ≈ 4e-6 of theirs
and Luan's balance maps to λ ≈ 0.02. Measured on the shared pair in1/tar1 with its DPST
masks (96 px, 60 iterations): the Laplacian energy of the result was 219 with λ = 0,
164 (0.02), 22 (1), 0.55 (1e2) and 0.04 (1e4), while the style term rose 102 → 255 (1e2)
→ 466 (1e4). λ = 0.02 leaves the painterly distortions; 1e4 keeps the result close to the
content; 1e2 removes the distortions (energy ~400× lower) and still lets the style term
work, so 1e2 is our default (benchmarks/RESULTS.md, "Photorealism").

References
----------
F. Luan, S. Paris, E. Shechtman, K. Bala, "Deep Photo Style Transfer", CVPR 2017,
:DOI:`10.1109/CVPR.2017.740`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence

import cv2
import numpy as np
import tensorflow as tf

from vidstyle import losses
from vidstyle.config import Config
from vidstyle.errors import InputError, OptionError
from vidstyle.images import resize_to
from vidstyle.lbfgs import ITERATIONS_PER_CALL
from vidstyle.matting import matting_bands, smooth_affine
from vidstyle.optimize import Result, Step
from vidstyle.regions import FrameMasks, MaskOptions, MaskTrack
from vidstyle.stylize import Stylizer, TemporalTarget
from vidstyle.tiling import full_box

logger = logging.getLogger(__name__)

#: Guard of mean(M_k) for a label absent at some layer (Gram 0/0 → 0, not NaN).
MASK_EPSILON = 1e-8
#: Floor of the colour covariance eigenvalues in `recolor_by_label` (flat regions).
RECOLOR_RIDGE = 1e-5


def segmented_style_loss(features: Mapping[str, tf.Tensor], masks: Mapping[str, tf.Tensor],
                         targets: Mapping[str, tf.Tensor], layer_weights: Mapping[str, float]) -> tf.Tensor:
    """Luan's augmented style loss, all labels at once.

    Parameters
    ----------
    features : {layer: (1, h, w, C)}
        Features F of the image being optimized.
    masks : {layer: (K, h, w)}
        Content masks M_k carried to each layer's grid.
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
    `losses.style_loss` (our Gram FᵀF/(h·w) divided by C there). Labels absent from the
    frame get share 0 and a finite Gram (mean(M_k) is guarded), never NaN.
    """
    terms = []
    for name, target in targets.items():
        grams, means = masked_grams(features[name], masks[name])
        share = means / tf.maximum(tf.reduce_sum(means), MASK_EPSILON)
        mse = tf.reduce_mean(tf.square(grams - target), axis=[1, 2])
        terms.append(layer_weights[name] * tf.reduce_sum(share * mse))
    return tf.add_n(terms)


def masked_grams(features: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Normalized Grams of features (1, h, w, C) under K masks (K, h, w) → (K, C, C), (K,).

    ``G_k = (F ⊙ M_k)ᵀ(F ⊙ M_k) / (C·h·w·mean(M_k))``, as `losses.masked_gram_matrix`
    for every k; the second value is mean(M_k).
    """
    shape = tf.shape(features)
    masked = features * masks[..., None]  # (K, h, w, C)
    flat = tf.reshape(masked, (tf.shape(masks)[0], shape[1] * shape[2], shape[3]))
    size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
    means = tf.reduce_mean(masks, axis=[1, 2])
    grams = tf.linalg.matmul(flat, flat, transpose_a=True)
    return grams / (size * tf.maximum(means, MASK_EPSILON))[:, None, None], means


def _affine_color_map(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) with ``A x + b`` giving pixels ``source`` (N, 3) the mean and covariance of ``target`` (M, 3).

    ``A = Σ_t^{1/2} Σ_s^{−1/2}`` (Gatys et al. 2017, eq. 5–6), eigenvalues floored so flat
    regions are not blown up.
    """
    def sqrtm(cov: np.ndarray, power: float) -> np.ndarray:
        values, vectors = np.linalg.eigh(cov + RECOLOR_RIDGE * np.eye(3))
        return (vectors * np.maximum(values, RECOLOR_RIDGE) ** power) @ vectors.T

    mu_s, mu_t = source.mean(0), target.mean(0)
    cov_s = np.cov(source, rowvar=False) if len(source) > 1 else np.zeros((3, 3))
    cov_t = np.cov(target, rowvar=False) if len(target) > 1 else np.zeros((3, 3))
    a = sqrtm(cov_t, 0.5) @ sqrtm(cov_s, -0.5)
    return a, mu_t - a @ mu_s


def recolor_by_label(content: np.ndarray, style: np.ndarray, content_slots: np.ndarray,
                     style_slots: np.ndarray, *, blur: float, shared: float = 0.0) -> np.ndarray:
    """The content with each label's colours moved to the style's colours of that label.

    Parameters
    ----------
    content, style : (H, W, 3), (H', W', 3) float32 in [0, 1]
    content_slots, style_slots : (K, H, W), (K, H', W') {0, 1}
        Label slot masks of content and style (`PhotorealStylizer._slot_masks`).
    blur : float
        Gaussian σ (pixels) that softens the slot masks into blending weights.
    shared : float in [0, 1]
        Weight of the whole-image map (all content pixels → all style pixels) mixed into
        every label's map: 0 keeps the labels independent, 1 is one global colour transfer.

    Returns
    -------
    (H, W, 3) float32
        ``Σ_k w_k (A_k x + b_k) / Σ_k w_k``: one affine colour map per label (mean and
        covariance of the label's content pixels → the style's), so the result is locally
        affine in the content except within ``blur`` of label edges.

    Notes
    -----
    A start point for photoreal transfer: the Gram loss moves colours slowly (after the
    default budget our results closed about half the colour gap that Luan's close), while
    this map closes most of it at once and leaves the optimizer the textures and local
    tones, with the matting term keeping it photorealistic.
    """
    x = content.reshape(-1, 3).astype(np.float64)
    s = style.reshape(-1, 3).astype(np.float64)
    out = np.zeros_like(x)
    total = np.zeros(len(x))
    a_all, b_all = _affine_color_map(x, s)
    for cmask, smask in zip(content_slots, style_slots, strict=True):
        inside, source = cmask.reshape(-1) > 0.5, smask.reshape(-1) > 0.5
        if not inside.any() or not source.any():
            continue
        a, b = _affine_color_map(x[inside], s[source])
        a, b = (1 - shared) * a + shared * a_all, (1 - shared) * b + shared * b_all
        weight = cv2.GaussianBlur(cmask.astype(np.float32), (0, 0), blur).reshape(-1) if blur > 0 \
            else cmask.reshape(-1).astype(np.float32)
        out += weight[:, None] * (x @ a.T + b)
        total += weight
    recolored = np.where(total[:, None] > 0, out / np.maximum(total, 1e-12)[:, None], x)
    return np.clip(recolored, 0, 1).reshape(content.shape).astype(np.float32)


def blend_region(stylized: np.ndarray, content: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``m·x + (1 − m)·p``, and exactly p where m = 0 (pixels outside the region)."""
    m = region[..., None]
    out = m * stylized + (1.0 - m) * content
    return np.where(m > 0, out, content).astype(np.float32)


class PhotorealStylizer(Stylizer):
    """A :class:`Stylizer` with segmented style, the matting term and region-only mode.

    Parameters
    ----------
    styles : sequence of (H, W, 3) float32
        Style images (one when ``style_labels`` is given).
    config : Config
        All settings; ``config.photoreal`` switches the matting stages and smoothing.
    style_labels : (H', W') int, optional
        Label map of ``styles[0]`` (DPST palette order); None: the whole style image for
        every content label.
    color_reference : (H, W, 3), optional
        As for :class:`Stylizer`.

    Notes
    -----
    Call :meth:`set_frame` with each content frame's masks before optimizing it. Label
    slots are the labels of the style map plus one fallback slot (the whole style
    image) that takes content labels missing from the style, so the number of masks K —
    and with it the compiled step — stays fixed over a video.
    """

    def __init__(self, styles: Sequence[np.ndarray], config: Config, *,
                 style_labels: np.ndarray | None = None, color_reference: np.ndarray | None = None,
                 report_every: int = ITERATIONS_PER_CALL):
        super().__init__(styles, config, color_reference=color_reference, report_every=report_every)
        if style_labels is not None and len(self.styles) != 1:
            raise OptionError("segmentation masks work with one style image: give a single STYLE")
        self.settings = config.photoreal
        if self.settings.enabled and self.settings.style_weight_scale != 1:
            # Photoreal's own style strength: the matting term keeps a stronger style photorealistic.
            boosted = self.loss.style_weight * self.settings.style_weight_scale
            self.loss = dataclasses.replace(self.loss, style_weight=boosted)
        self.style_labels = None if style_labels is None else np.asarray(style_labels, np.int32)
        self.label_set: list[int] = [] if style_labels is None else sorted(np.unique(style_labels).tolist())
        self.frame = FrameMasks()
        self._bands: tuple[str, tf.Tensor] | None = None  # (content key, M_I bands) of the last frame
        self.laplacian_builds = 0  # Matting Laplacians built so far (one per distinct frame)
        self._full_hw: tuple[int, int] | None = None  # frame size while `refine` runs its levels

    # ---- masks ---------------------------------------------------------------------
    def set_frame(self, masks: FrameMasks) -> None:
        """Use these masks for the next content frame (full working size)."""
        self.frame = masks

    def _slot_masks(self, labels: np.ndarray | None, shape_hw: tuple[int, int]) -> np.ndarray:
        """(K, H, W) masks: one per style label, then the fallback slot."""
        k = len(self.label_set) + 1
        out = np.zeros((k, *shape_hw), np.float32)
        if labels is None:
            out[-1] = 1.0
            return out
        labels = cv2.resize(labels.astype(np.int32), shape_hw[::-1], interpolation=cv2.INTER_NEAREST) \
            if labels.shape != shape_hw else labels
        for slot, label in enumerate(self.label_set):
            out[slot] = labels == label
        out[-1] = ~np.isin(labels, self.label_set)
        return out

    def content_masks(self, shape_hw: tuple[int, int]) -> dict[str, tf.Tensor]:
        """Current frame's slot masks, times the region, carried to every style layer."""
        masks = self._slot_masks(self.frame.labels, shape_hw)
        if self.frame.region is not None:
            masks *= resize_to(self.frame.region, shape_hw)[None]
        through = self.net.masks_through(masks, self.loss.style_layers)
        return {k: tf.constant(v) for k, v in through.items()}

    def _style_grams(self, feats: dict[str, tf.Tensor], style_hw: tuple[int, int]) -> dict[str, tf.Tensor]:
        """Per-slot Gram targets {layer: (K, C, C)} of one style image (blended by the base class)."""
        if self.style_labels is None:
            masks = np.ones((len(self.label_set) + 1, *style_hw), np.float32)
        else:
            masks = self._slot_masks(self.style_labels, style_hw)
            masks[-1] = 1.0  # fallback slot: the whole style image
        through = self.net.masks_through(masks, self.loss.style_layers)
        return {k: masked_grams(feats[k], tf.constant(through[k]))[0] for k in feats}

    def laplacian(self, content: np.ndarray) -> tf.Tensor:
        """M_I of ``content`` as (25, H, W) float32 bands (`matting_bands`); the last one is cached.

        Keyed by the frame's bytes, shape and dtype, so Luan's stage 2 and any later
        optimization of the same frame reuse it; each build adds 1 to ``laplacian_builds``.
        """
        content = np.ascontiguousarray(content)
        key = hashlib.sha1(content.tobytes() + f"{content.shape}{content.dtype}".encode()).hexdigest()
        if self._bands is None or self._bands[0] != key:
            self._bands = None  # free the previous frame's bands before building the next
            bands = matting_bands(content, epsilon=self.settings.epsilon)
            self._bands = (key, tf.constant(bands, tf.float32))
            self.laplacian_builds += 1
        return self._bands[1]

    def matting_lambda(self, requested: float | None = None) -> float:
        """λ of a run: ``requested``, else the settings' λ under ``--photoreal`` and 0 without it."""
        if requested is not None:
            return float(requested)
        return float(self.settings.matting_weight) if self.settings.enabled else 0.0

    def initial_image(self, content: np.ndarray, init: str | None = None, *, seed: int | None = None) -> np.ndarray:
        """As :meth:`Stylizer.initial_image`; with ``photoreal.recolor_init`` a content init
        starts from the content recoloured per label (`recolor_by_label`); so does a
        "recolor" init (per label rather than over the whole image)."""
        image = super().initial_image(content, init, seed=seed)
        wanted = self.settings.enabled and self.settings.recolor_init
        if not wanted or (init or self.config.optimizer.init) not in ("content", "recolor"):
            return image
        hw = content.shape[:2]
        slots = self._slot_masks(self.frame.labels, hw)
        style = self.styles[0]
        if self.style_labels is None:
            style_slots = np.ones((len(slots), *style.shape[:2]), np.float32)
        else:
            style_slots = self._slot_masks(self.style_labels, style.shape[:2])
            style_slots[-1] = 1.0  # fallback slot: the whole style image
        return recolor_by_label(image, style, slots, style_slots, blur=self.settings.recolor_blur * max(hw),
                                shared=self.settings.recolor_shared)

    # ---- loss ----------------------------------------------------------------------
    def _gram_sum(self, core, name: str, box, stride: int, masks):
        """Per-label unnormalized Grams of a tile core (K, C, C): the masks cropped to the core."""
        y0, y1, x0, x1 = full_box(box, stride)
        masked = core * masks[name][:, y0:y1, x0:x1, None]  # (K, h, w, C)
        flat = tf.reshape(masked, (tf.shape(masked)[0], -1, core.shape[-1]))
        return tf.linalg.matmul(flat, flat, transpose_a=True)

    def _style_from_sums(self, sums, sizes, style_targets, masks):
        """`segmented_style_loss` from per-label Gram sums over the whole image."""
        terms = []
        for name, total in sums.items():
            means = tf.reduce_mean(masks[name], axis=[1, 2])
            channels = float(total.shape[-1])
            grams = total / (channels * float(sizes[name][0] * sizes[name][1])
                             * tf.maximum(means, MASK_EPSILON))[:, None, None]
            share = means / tf.maximum(tf.reduce_sum(means), MASK_EPSILON)
            mse = tf.reduce_mean(tf.square(grams - style_targets[name]), axis=[1, 2])
            terms.append(self.layer_weights[name] * tf.reduce_sum(share * mse))
        return tf.add_n(terms)

    def _loss_and_grad(self, x, content_target, style_targets, warped, weights, content_masks, bands,
                       matting_weight):
        """As :meth:`Stylizer._loss_and_grad`, segmented style and the matting term.

        ``bands`` None (λ = 0) traces a step without any matting op; its "matting" term is 0.
        """
        lw = self.loss
        plan = self.tile_plan(x.shape[:2])
        if plan.tiled:  # segmented Grams in tiles; the matting term is banded over the whole image
            total, terms, grad = self._tiled_loss_and_grad(x, plan, content_target, style_targets, warped,
                                                           weights, content_masks)
            if bands is None:
                return total, {**terms, "matting": tf.zeros((), x.dtype)}, grad
            with tf.GradientTape() as tape:
                tape.watch(x)
                matting = matting_weight * losses.matting_loss(x[None], bands)
            return total + matting, {**terms, "matting": matting}, grad + tape.gradient(matting, x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            image = x[None]
            feats = self.net(image, (lw.content_layer, *lw.style_layers))
            terms = {
                "content": lw.content_weight * losses.content_loss(feats[lw.content_layer], content_target),
                "style": lw.style_weight * segmented_style_loss(feats, content_masks, style_targets,
                                                                self.layer_weights),
                "tv": lw.tv_weight * losses.total_variation_loss(image),
            }
            terms["temporal"] = lw.temporal_weight * losses.temporal_loss(image, warped, weights)
            if bands is None:
                terms["matting"] = tf.zeros((), x.dtype)
            else:
                terms["matting"] = matting_weight * losses.matting_loss(image, bands)
            total = tf.add_n(list(terms.values()))
        return total, terms, tape.gradient(total, x)

    def objective_args(self, content: np.ndarray, temporal: Sequence[TemporalTarget] = (), *,
                       matting_weight: float | None = None) -> tuple:
        """Constants of the objective; ``matting_weight`` λ (default: `matting_lambda`).

        λ = 0 gives (…, None, None) for the bands and λ: the Laplacian is not built and the
        compiled step has no matting term.
        """
        lam = self.matting_lambda(matting_weight)
        base = super().objective_args(content, temporal)
        matting = (None, None) if lam == 0 else (self.laplacian(content), tf.constant(lam, tf.float32))
        return (*base, self.content_masks(content.shape[:2]), *matting)

    def loss_function(self, content: np.ndarray, temporal: Sequence[TemporalTarget] = (), *,
                      matting_weight: float | None = None
                      ) -> Callable[[np.ndarray], tuple[float, dict[str, float], np.ndarray]]:
        """Objective of one image → (loss, terms, gradient); ``matting_weight`` λ (default: `matting_lambda`)."""
        return self._host_objective(self.objective_args(content, temporal, matting_weight=matting_weight))

    # ---- drivers -------------------------------------------------------------------
    def _run(self, content, init, iterations, temporal, callback, matting_weight, offset=0, total=None, stop=None):
        def report(step: Step) -> None:
            if callback is not None:
                callback(dataclasses.replace(step, iteration=step.iteration + offset,
                                             iterations=total or step.iterations))
        return self._minimize(self.objective_args(content, temporal, matting_weight=matting_weight), init,
                              iterations, report, content.shape[:2], stop)

    def optimize(self, content: np.ndarray, init: np.ndarray, *, iterations: int,
                 temporal: Sequence[TemporalTarget] = (), callback: Callable[[Step], None] | None = None,
                 stop: tuple[float, int] | None = None) -> Result:
        """One size: Luan's stage 1 (no matting) then stage 2 (with it) from stage 1's result.

        Without ``photoreal.enabled`` only the segmented style (no matting term) runs; so
        do the coarse levels of :meth:`refine`.
        """
        coarse = self._full_hw is not None and content.shape[:2] != self._full_hw
        if coarse or self.matting_lambda() == 0:
            return self._run(content, init, iterations, temporal, callback, 0.0, stop=stop)
        first = round(iterations * self.settings.stage1_fraction)
        first = min(first, iterations - 1)
        stage1 = None
        if first > 0:
            stage1 = self._run(content, init, first, temporal, callback, 0.0, 0, iterations, stop)
            init = stage1.image
        stage2 = self._run(content, init, iterations - first, temporal, callback, None,
                           stage1.iterations if stage1 else 0, iterations, stop)
        if stage1 is None:
            return stage2
        return Result(stage2.image, stage1.iterations + stage2.iterations, stage2.loss, stage2.terms,
                      stage1.seconds + stage2.seconds, stage2.stopped_early, stage1.history + stage2.history)

    def refine(self, content: np.ndarray, init: np.ndarray, *, iterations: int,
               temporal: Sequence[TemporalTarget] = (), callback: Callable[[Step], None] | None = None
               ) -> Result:
        """As :meth:`Stylizer.refine`; its coarse levels run without the matting term (as in
        :meth:`stylize`), so the frame's Laplacian is built once, at full size."""
        self._full_hw = content.shape[:2]
        try:
            return super().refine(content, init, iterations=iterations, temporal=temporal, callback=callback)
        finally:
            self._full_hw = None

    def _optimize_level(self, content: np.ndarray, init: np.ndarray, iterations: int,
                        callback: Callable[[Step], None], *, final: bool) -> Result:
        """Coarse levels run the segmented style only; the full size runs both of Luan's stages."""
        if final:
            return self.optimize(content, init, iterations=iterations, callback=callback)
        return self._run(content, init, iterations, (), callback, 0.0)

    def finish(self, result: Result, content: np.ndarray) -> Result:
        """Colour preservation, optional closed-form smoothing, then the region blend."""
        result = super().finish(result, content)
        if self.settings.smooth:
            result.image = smooth_affine(result.image, content, lam=self.settings.smooth_lambda,
                                         epsilon=self.settings.epsilon)
        if self.frame.region is not None:
            if self.frame.region.shape != content.shape[:2]:
                raise InputError(f"region mask is {self.frame.region.shape[1]}×{self.frame.region.shape[0]} "
                                 f"but the frame is {content.shape[1]}×{content.shape[0]}")
            result.image = blend_region(result.image, content, self.frame.region)
        return result


def wants_photoreal(config: Config, masks: MaskOptions | None) -> bool:
    """True when the run needs :class:`PhotorealStylizer` (photoreal, masks or a region)."""
    return config.photoreal.enabled or (masks is not None and (masks.label_source is not None
                                                               or masks.region is not None))


def make_stylizer(styles: Sequence[np.ndarray], config: Config, *, track: MaskTrack | None = None,
                  color_reference: np.ndarray | None = None, report_every: int = ITERATIONS_PER_CALL) -> Stylizer:
    """A plain :class:`Stylizer`, or a :class:`PhotorealStylizer` when photoreal/masks ask for it."""
    if not wants_photoreal(config, None if track is None else track.options):
        return Stylizer(styles, config, color_reference=color_reference, report_every=report_every)
    return PhotorealStylizer(styles, config, style_labels=None if track is None else track.style_labels,
                             color_reference=color_reference, report_every=report_every)


def stylize_photoreal_image(content: np.ndarray, styles: Sequence[np.ndarray], config: Config,
                            masks: MaskOptions | None = None, *,
                            callback: Callable[[Step], None] | None = None,
                            report_every: int = ITERATIONS_PER_CALL) -> Result:
    """Stylize one image (working size) with photoreal settings, masks and region.

    Raises
    ------
    OptionError, InputError, segmentation.SegmentationError
        Contradicting options, unreadable or mismatched masks, a bad GrabCut rectangle.
    """
    track = None
    if masks is not None:
        track = MaskTrack(masks, [lambda: content], styles[0] if styles else None, seed=config.optimizer.seed)
    stylizer = make_stylizer(styles, config, track=track, color_reference=content, report_every=report_every)
    if isinstance(stylizer, PhotorealStylizer) and track is not None:
        stylizer.set_frame(track.frame_masks(0, feather=config.photoreal.region_feather))
    return stylizer.stylize(content, callback=callback)
