"""The objective of one image as a list of named, weighted loss terms.

A :class:`~vidstyle.stylize.Stylizer` minimizes ``Σ_t weight_t · loss_t`` over its list
of terms in one compiled step (targets once, the loss from small named weighted terms).
Each term binds a pure function of `vidstyle.losses` to its weight and its constants:

===================  ==========================  ==============================================
term (name)          reads                       constants, built once per image
===================  ==========================  ==============================================
content              features at relu4_2         the content frame's features P
style                features at style layers    blended Gram targets of the style images
style (segmented)    features at style layers    per-label Gram targets, content label masks
tv                   the image                   none
temporal             the image                   warped neighbours ω_j, reliabilities c_j
matting              the image                   Matting Laplacian M_I of the frame (banded)
===================  ==========================  ==============================================

*Feature terms* read the VGG features of the image, computed once per evaluation for all
of them (the net runs to the deepest layer any of them reads); *pixel terms* read the
image (1, H, W, 3). A feature term also has the tiled form `vidstyle.tiling` needs:
``tile_sums`` (its statistics summed over a tile's core positions) and ``from_sums`` (its
value from their totals, equal to the untiled one). Its value is a sum over its layers,
so a two-stage tiled step may take its early and its deep layers apart. A style term
(one with ``grams``) also makes its own targets from the style image, untiled or in
tiles, with the same statistics.

Constants come from ``term.constants(stylizer, frame)``: the stylizer supplies
``content_target``, ``style_targets`` and ``net``, the :class:`Frame` the content,
temporal targets and masks. They reach the compiled step as one dict keyed by term name,
so a new frame of the same size reuses the trace. Constants None switch a term off for a
run: its value is 0, the trace holds none of its ops and its constants are not built.
That happens to a term of weight 0, to the terms a :class:`Stage` leaves out (Luan's
stage 1 has no matting term) and, on coarse pyramid levels, to terms with ``coarse`` False.

Adding a term: write its loss as a pure function of tensors in `vidstyle.losses` (with a
test), make the term — a pixel term is one line, e.g. ``PixelTerm("histogram", 1e2,
losses.histogram_loss, build=histogram_constants)`` — and give the stylizer the list
with it: ``Stylizer(styles, config, terms=with_terms(default_terms(config.loss), term))``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import tensorflow as tf

from vidstyle import losses
from vidstyle.config import LossSettings
from vidstyle.images import resize_to
from vidstyle.matting import matting_bands

if TYPE_CHECKING:  # pragma: no cover - typing only
    from vidstyle.regions import FrameMasks

#: Name of the term whose targets :meth:`Stylizer.style_targets` gives by default.
STYLE = "style"


@dataclass(frozen=True)
class TemporalTarget:
    """One temporal term: a neighbour's stylized frame warped onto this frame.

    Attributes
    ----------
    warped : (H, W, 3) float32
        ω, the neighbour's result warped into the current frame.
    weights : (H, W) float32
        c ∈ [0, 1], flow reliability (long-term: c_long).
    """

    warped: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class Frame:
    """What the constants of one optimization are built from.

    Attributes
    ----------
    content : (H, W, 3) float32
        The content image p at this working size.
    temporal : sequence of TemporalTarget
        Warped neighbours at this size (empty: none).
    masks : FrameMasks or None
        The frame's label map and region at the full working size (terms resize them).
    """

    content: np.ndarray
    temporal: Sequence[TemporalTarget] = ()
    masks: FrameMasks | None = None


@dataclass(frozen=True)
class Stage:
    """One stage of an optimization at one size.

    Attributes
    ----------
    share : float
        Fraction of the iterations (the last stage takes the rest).
    off : frozenset of str
        Terms left out of this stage.
    """

    share: float = 1.0
    off: frozenset[str] = frozenset()


def stage_runs(stages: Sequence[Stage], iterations: int, off: Iterable[str] = ()) -> list[tuple[int, frozenset]]:
    """(iterations, terms off) of each run of a stage plan; ``off``: terms off in every stage.

    A stage before the last gets ``round(share · iterations)``, at most all but one
    iteration, and is skipped at 0; the last gets the rest. Consecutive stages that leave
    the same terms out merge into one run (e.g. Luan's two stages where the matting term is
    off anyway: coarse levels, λ = 0). Always at least one run.
    """
    always = frozenset(off)
    runs: list[tuple[int, frozenset]] = []
    done = 0
    for k, stage in enumerate(stages):
        if k == len(stages) - 1:
            n = iterations - done
        else:
            n = min(round(iterations * stage.share), iterations - done - 1)
        if n <= 0:
            continue
        left_out = stage.off | always
        if runs and runs[-1][1] == left_out:
            runs[-1] = (runs[-1][0] + n, left_out)
        else:
            runs.append((n, left_out))
        done += n
    return runs or [(iterations, stages[-1].off | always)]


# ---- pixel terms ---------------------------------------------------------------------------
def no_constants(stylizer: Any, frame: Frame) -> tuple:
    """Constants of a term that needs none."""
    return ()


def temporal_constants(stylizer: Any, frame: Frame) -> tuple[tf.Tensor, tf.Tensor]:
    """(ω (J, H, W, 3), c (J, H, W, 1)) of `losses.temporal_loss` from the frame's targets.

    No targets: one target of weight 0, not an empty stack (an empty broadcast crashes
    TensorFlow's graph optimizer inside the compiled L-BFGS loop).
    """
    h, w = frame.content.shape[:2]
    temporal = frame.temporal
    warped = np.stack([t.warped for t in temporal]) if temporal else np.zeros((1, h, w, 3), np.float32)
    weights = (np.stack([t.weights[..., None] for t in temporal]) if temporal
               else np.zeros((1, h, w, 1), np.float32))
    return tf.constant(warped, tf.float32), tf.constant(weights, tf.float32)


class LaplacianCache:
    """Constants of the matting term: M_I of the frame as (25, H, W) bands, the last one kept.

    Keyed by the frame's bytes, shape and dtype, so Luan's stage 2 and any later
    optimization of the same frame reuse it; each build adds 1 to ``builds``.

    Parameters
    ----------
    epsilon : float
        ε of the Matting Laplacian (`vidstyle.matting.matting_bands`).
    """

    def __init__(self, epsilon: float):
        self.epsilon = epsilon
        self.builds = 0
        self._last: tuple[str, tf.Tensor] | None = None

    def __call__(self, stylizer: Any, frame: Frame) -> tuple[tf.Tensor]:
        return (self.bands(frame.content),)

    def bands(self, content: np.ndarray) -> tf.Tensor:
        """M_I of ``content`` (H, W, 3) as float32 bands (`matting_bands`)."""
        content = np.ascontiguousarray(content)
        key = hashlib.sha1(content.tobytes() + f"{content.shape}{content.dtype}".encode()).hexdigest()
        if self._last is None or self._last[0] != key:
            self._last = None  # free the previous frame's bands before building the next
            self._last = (key, tf.constant(matting_bands(content, epsilon=self.epsilon), tf.float32))
            self.builds += 1
        return self._last[1]


@dataclass(frozen=True)
class PixelTerm:
    """``weight · loss(image, *constants)`` of the image x (1, H, W, 3) itself.

    Attributes
    ----------
    name : str
        Key of the term in the loss report (and of its constants).
    weight : float
        Its weight; 0 switches it off.
    loss : callable
        Pure function of tensors, ``loss(image, *constants) → scalar`` (`vidstyle.losses`).
    build : callable
        ``build(stylizer, frame) → tuple`` of its constants (default: none).
    coarse : bool
        Also on coarse pyramid levels (False: only at the full working size).
    """

    name: str
    weight: float
    loss: Callable[..., tf.Tensor]
    build: Callable[[Any, Frame], tuple] = no_constants
    coarse: bool = True
    layers: tuple[str, ...] = field(default=(), init=False)  # reads no features

    def constants(self, stylizer: Any, frame: Frame) -> tuple:
        return tuple(self.build(stylizer, frame))

    def value(self, image: tf.Tensor, constants: tuple) -> tf.Tensor:
        return self.weight * self.loss(image, *constants)


# ---- feature terms -------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentTerm:
    """Gatys' content term: mean squared difference of the features at ``layer`` to the content's (P)."""

    weight: float
    layer: str
    name: str = "content"
    coarse: bool = True

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def constants(self, stylizer: Any, frame: Frame) -> tf.Tensor:
        return stylizer.content_target(frame.content, self.layer)

    def value(self, features: Mapping[str, tf.Tensor], target: tf.Tensor) -> tf.Tensor:
        return self.weight * losses.content_loss(features[self.layer], target)

    def tile_sums(self, cores, boxes, target) -> dict[str, tf.Tensor]:
        y0, y1, x0, x1 = boxes[self.layer]
        return {self.layer: losses.squared_error_sum(cores[self.layer], target[:, y0:y1, x0:x1, :])}

    def from_sums(self, sums, sizes, target) -> tf.Tensor:
        (h, w), channels = sizes[self.layer], target.shape[-1]
        return self.weight * sums[self.layer] / float(h * w * channels)


@dataclass(frozen=True, eq=False)
class StyleTerm:
    """Gatys' style term: Gram matrices against the blended style Grams (`losses.style_loss`).

    Statistics (``grams``, ``gram_sums``, ``grams_from_sums``) are shared by the image
    being optimized and the style image the targets come from; ``masks`` is None here.
    """

    weight: float
    layer_weights: Mapping[str, float]
    name: str = STYLE
    coarse: bool = True

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.layer_weights)

    def constants(self, stylizer: Any, frame: Frame) -> Any:
        return stylizer.style_targets(frame.content.shape[:2], self)

    # statistics of an image
    def style_masks(self, net: Any, shape_hw: tuple[int, int]) -> None:
        """Masks of the style image's statistics: none."""
        return None

    def grams(self, features, masks) -> dict[str, tf.Tensor]:
        return {k: losses.gram_matrix(v) for k, v in features.items() if k in self.layer_weights}

    def gram_sums(self, cores, boxes, masks) -> dict[str, tf.Tensor]:
        return {k: losses.gram_sum(core) for k, core in cores.items()}

    def grams_from_sums(self, sums, sizes, masks) -> dict[str, tf.Tensor]:
        return {n: sums[n][None] / float(sizes[n][0] * sizes[n][1]) for n in self.layers if n in sums}

    # the term
    def value(self, features, targets) -> tf.Tensor:
        return self.weight * losses.style_loss(self.grams(features, None), targets, self.layer_weights)

    def tile_sums(self, cores, boxes, targets) -> dict[str, tf.Tensor]:
        return self.gram_sums(cores, boxes, None)

    def from_sums(self, sums, sizes, targets) -> tf.Tensor:
        grams = self.grams_from_sums(sums, sizes, None)
        return self.weight * losses.style_loss(grams, {n: targets[n] for n in grams}, self.layer_weights)


@dataclass(frozen=True, eq=False)
class SegmentedStyleTerm:
    """Luan's augmented style term: Grams per label slot (`losses.segmented_style_loss`).

    Label slots are the labels of the style's map, in order, plus one fallback slot (the
    whole style image) that takes content labels missing from the style, so the number of
    masks K — and with it the compiled step — stays fixed over a video.

    Attributes
    ----------
    weight : float
    layer_weights : {layer: float}
    style_labels : (H', W') int or None
        Label map of the style image (DPST palette order); None: the whole style image for
        every content label.
    """

    weight: float
    layer_weights: Mapping[str, float]
    style_labels: np.ndarray | None = None
    name: str = STYLE
    coarse: bool = True

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.layer_weights)

    @property
    def label_set(self) -> list[int]:
        return [] if self.style_labels is None else sorted(np.unique(self.style_labels).tolist())

    # masks
    def slot_masks(self, labels: np.ndarray | None, shape_hw: tuple[int, int]) -> np.ndarray:
        """(K, H, W) {0, 1} masks of a label map: one per style label, then the fallback slot."""
        label_set = self.label_set
        out = np.zeros((len(label_set) + 1, *shape_hw), np.float32)
        if labels is None:
            out[-1] = 1.0
            return out
        labels = cv2.resize(labels.astype(np.int32), shape_hw[::-1], interpolation=cv2.INTER_NEAREST) \
            if labels.shape != shape_hw else labels
        for slot, label in enumerate(label_set):
            out[slot] = labels == label
        out[-1] = ~np.isin(labels, label_set)
        return out

    def style_slots(self, shape_hw: tuple[int, int]) -> np.ndarray:
        """(K, H', W') masks of the style image at ``shape_hw``; the fallback slot is all of it."""
        if self.style_labels is None:
            return np.ones((len(self.label_set) + 1, *shape_hw), np.float32)
        slots = self.slot_masks(self.style_labels, shape_hw)
        slots[-1] = 1.0
        return slots

    def content_masks(self, net: Any, masks: FrameMasks | None, shape_hw: tuple[int, int]) -> dict[str, tf.Tensor]:
        """The frame's slot masks, times its region, carried to every style layer."""
        slots = self.slot_masks(None if masks is None else masks.labels, shape_hw)
        if masks is not None and masks.region is not None:
            slots *= resize_to(masks.region, shape_hw)[None]
        return {k: tf.constant(v) for k, v in net.masks_through(slots, self.layers).items()}

    def constants(self, stylizer: Any, frame: Frame) -> tuple:
        hw = frame.content.shape[:2]
        return stylizer.style_targets(hw, self), self.content_masks(stylizer.net, frame.masks, hw)

    # statistics of an image under masks {layer: (K, h, w)}
    def style_masks(self, net: Any, shape_hw: tuple[int, int]) -> dict[str, tf.Tensor]:
        """The style image's slot masks carried to every style layer."""
        return {k: tf.constant(v) for k, v in net.masks_through(self.style_slots(shape_hw), self.layers).items()}

    def grams(self, features, masks) -> dict[str, tf.Tensor]:
        return {k: losses.masked_grams(v, masks[k])[0] for k, v in features.items() if k in self.layer_weights}

    def gram_sums(self, cores, boxes, masks) -> dict[str, tf.Tensor]:
        out = {}
        for k, core in cores.items():
            y0, y1, x0, x1 = boxes[k]
            out[k] = losses.masked_gram_sum(core, masks[k][:, y0:y1, x0:x1])
        return out

    def grams_from_sums(self, sums, sizes, masks) -> dict[str, tf.Tensor]:
        return {n: losses.masked_grams_from_sum(sums[n], masks[n]) for n in self.layers if n in sums}

    # the term
    def value(self, features, constants) -> tf.Tensor:
        targets, masks = constants
        return self.weight * losses.segmented_style_loss(features, masks, targets, self.layer_weights)

    def tile_sums(self, cores, boxes, constants) -> dict[str, tf.Tensor]:
        return self.gram_sums(cores, boxes, constants[1])

    def from_sums(self, sums, sizes, constants) -> tf.Tensor:
        targets, masks = constants
        grams = self.grams_from_sums(sums, sizes, masks)
        return self.weight * losses.segmented_style_loss_of_grams(grams, masks, {n: targets[n] for n in grams},
                                                                  self.layer_weights)


# ---- term lists ----------------------------------------------------------------------------
def default_terms(loss: LossSettings) -> list:
    """Content, style, total variation and temporal terms of ``loss`` (Gatys, Ruder)."""
    return [
        ContentTerm(loss.content_weight, loss.content_layer),
        StyleTerm(loss.style_weight, loss.layer_weights()),
        PixelTerm("tv", loss.tv_weight, losses.total_variation_loss),
        PixelTerm("temporal", loss.temporal_weight, losses.temporal_loss, build=temporal_constants),
    ]


def with_terms(terms: Sequence, *added) -> list:
    """``terms`` with each of ``added`` in place of the term of its name, or appended."""
    out = list(terms)
    for term in added:
        names = [t.name for t in out]
        if term.name in names:
            out[names.index(term.name)] = term
        else:
            out.append(term)
    return out
