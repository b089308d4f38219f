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

import logging
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from vidstyle import losses
from vidstyle.config import Config, PhotorealSettings
from vidstyle.errors import InputError, OptionError
from vidstyle.lbfgs import ITERATIONS_PER_CALL
from vidstyle.matting import smooth_affine
from vidstyle.optimize import Result, Step
from vidstyle.regions import MaskOptions, MaskTrack
from vidstyle.stylize import Stylizer
from vidstyle.terms import STYLE, LaplacianCache, PixelTerm, SegmentedStyleTerm, Stage, default_terms, with_terms

logger = logging.getLogger(__name__)

#: Floor of the colour covariance eigenvalues in `recolor_by_label` (flat regions).
RECOLOR_RIDGE = 1e-5


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
        Label slot masks of content and style (`vidstyle.terms.SegmentedStyleTerm.slot_masks`).
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
    """A :class:`Stylizer` with Luan's terms and stages, recoloured init and region mode.

    The same optimizer with another term list and stage plan (:func:`photoreal_terms`,
    :func:`photoreal_stages`): the segmented style term in place of the style term, the
    matting term added (off on coarse pyramid levels), and Luan's stage 1 without the
    matting term before stage 2 with it. On top: a per-label recoloured start
    (:meth:`initial_image`) and, when finishing, closed-form smoothing and the region
    blend (:meth:`finish`).

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
    Call :meth:`set_frame` with each content frame's masks before optimizing it.
    """

    def __init__(self, styles: Sequence[np.ndarray], config: Config, *,
                 style_labels: np.ndarray | None = None, color_reference: np.ndarray | None = None,
                 report_every: int = ITERATIONS_PER_CALL):
        if style_labels is not None and len(styles) > 1:
            raise OptionError("segmentation masks work with one style image: give a single STYLE")
        self.settings = config.photoreal
        self.laplacians = LaplacianCache(self.settings.epsilon)
        super().__init__(styles, config, color_reference=color_reference, report_every=report_every,
                         terms=photoreal_terms(config, style_labels, self.laplacians),
                         stages=photoreal_stages(config.photoreal))

    @property
    def laplacian_builds(self) -> int:
        """Matting Laplacians built so far (one per distinct frame)."""
        return self.laplacians.builds

    def initial_image(self, content: np.ndarray, init: str | None = None, *, seed: int | None = None) -> np.ndarray:
        """As :meth:`Stylizer.initial_image`; with ``photoreal.recolor_init`` a content init
        starts from the content recoloured per label (`recolor_by_label`); so does a
        "recolor" init (per label rather than over the whole image)."""
        image = super().initial_image(content, init, seed=seed)
        wanted = self.settings.enabled and self.settings.recolor_init
        if not wanted or (init or self.config.optimizer.init) not in ("content", "recolor"):
            return image
        hw = content.shape[:2]
        style_term = self.term(STYLE)
        slots = style_term.slot_masks(None if self.frame is None else self.frame.labels, hw)
        style = self.styles[0]
        return recolor_by_label(image, style, slots, style_term.style_slots(style.shape[:2]),
                                blur=self.settings.recolor_blur * max(hw), shared=self.settings.recolor_shared)

    def finish(self, result: Result, content: np.ndarray) -> Result:
        """Colour preservation, optional closed-form smoothing, then the region blend."""
        result = super().finish(result, content)
        if self.settings.smooth:
            result.image = smooth_affine(result.image, content, lam=self.settings.smooth_lambda,
                                         epsilon=self.settings.epsilon)
        region = None if self.frame is None else self.frame.region
        if region is not None:
            if region.shape != content.shape[:2]:
                raise InputError(f"region mask is {region.shape[1]}×{region.shape[0]} "
                                 f"but the frame is {content.shape[1]}×{content.shape[0]}")
            result.image = blend_region(result.image, content, region)
        return result


def photoreal_terms(config: Config, style_labels: np.ndarray | None = None,
                    laplacians: LaplacianCache | None = None) -> list:
    """The default terms with Luan's: segmented style in place of style, and matting.

    Under ``photoreal.enabled`` the style weight is multiplied by ``style_weight_scale``
    (the matting term keeps a stronger style photorealistic) and the matting term weighs
    ``matting_weight`` (λ); without it (masks or a region only) λ = 0: the term is off,
    no Laplacian is built. The matting term runs at the full working size only.
    """
    settings, loss = config.photoreal, config.loss
    style_weight = loss.style_weight
    if settings.enabled and settings.style_weight_scale != 1:
        style_weight = loss.style_weight * settings.style_weight_scale
    matting = PixelTerm("matting", float(settings.matting_weight) if settings.enabled else 0.0, losses.matting_loss,
                        build=laplacians or LaplacianCache(settings.epsilon), coarse=False)
    return with_terms(default_terms(loss), SegmentedStyleTerm(style_weight, loss.layer_weights(), style_labels),
                      matting)


def photoreal_stages(settings: PhotorealSettings) -> tuple[Stage, Stage]:
    """Luan's two stages: ``stage1_fraction`` of the iterations without the matting term, the rest with it."""
    return Stage(settings.stage1_fraction, frozenset({"matting"})), Stage()


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
