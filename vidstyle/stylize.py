"""Gatys image stylization: targets once, a compiled loss step, coarse-to-fine driver.

:class:`Stylizer` holds the feature net and the style targets (Gram matrices per
working size) and optimizes one image at a time; the video pipeline reuses it per frame
with temporal terms added.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import tensorflow as tf

from vidstyle import losses
from vidstyle.color import match_colors, transfer_luminance
from vidstyle.config import Config
from vidstyle.errors import OptionError, ResourceError
from vidstyle.images import load_image, resize_to
from vidstyle.lbfgs import ITERATIONS_PER_CALL, InGraphLBFGS
from vidstyle.net import FeatureNet
from vidstyle.optimize import Result, Step, minimize
from vidstyle.tiling import (
    TileGrid,
    TilePlan,
    auto_tile,
    core_of,
    full_box,
    layer_strides,
    plan_stages,
    plan_tiles,
    receptive_field,
    tiled_backward,
    tiled_forward,
    tiled_value_and_grad,
)

logger = logging.getLogger(__name__)

MIN_LEVEL_SIDE = 32  # coarser pyramid levels than this carry too little for VGG's 5 poolings


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


def pyramid_shapes(shape_hw: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """Working sizes coarse → fine, halving per level; levels too small are dropped."""
    h, w = shape_hw
    shapes = []
    for level in range(levels - 1, -1, -1):
        s = 0.5**level
        hs, ws = round(h * s), round(w * s)
        if min(hs, ws) >= MIN_LEVEL_SIDE or level == 0:
            shapes.append((hs, ws))
    return shapes


def style_shape(style_hw: tuple[int, int], content_hw: tuple[int, int], scale: float,
                rule: str = "long-side") -> tuple[int, int]:
    """Style working size, style aspect kept.

    "long-side" (default, Ruder's and Johnson's code: ``image.scale(img, style_scale *
    image_size)``): the style's long side = scale × the content's long side. "area": the
    style's area = scale × the content's area, which shrinks a square style beside a wide
    frame (its strokes then come out too big).
    """
    if rule == "area":
        factor = np.sqrt(content_hw[0] * content_hw[1] * scale / (style_hw[0] * style_hw[1]))
    else:
        factor = scale * max(content_hw) / max(style_hw)
    return max(16, round(style_hw[0] * factor)), max(16, round(style_hw[1] * factor))


class Stylizer:
    """Optimizes images toward the style of one or more style images.

    Parameters
    ----------
    styles : sequence of (H, W, 3) float32
        Style images a_1..a_n, RGB in [0, 1].
    config : Config
        All settings.
    color_reference : (H, W, 3), optional
        Content image the styles are colour-matched to when preserve_colors is
        "before"/"both" (a video uses its first frame so targets stay fixed over time).
    report_every : int
        Iterations per compiled optimizer call (progress and intermediate images come
        once per call); does not change the result.
    """

    def __init__(self, styles: Sequence[np.ndarray], config: Config, *,
                 color_reference: np.ndarray | None = None, report_every: int = ITERATIONS_PER_CALL):
        if not styles:
            raise OptionError("give at least one style image")
        blend = config.style.style_blend
        if blend is not None and len(blend) != len(styles):
            raise OptionError(f"--style-blend has {len(blend)} weights for {len(styles)} style images: "
                              "give one weight per style image")
        weights = np.asarray(blend if blend is not None else [1.0] * len(styles), np.float64)
        self.blend = weights / weights.sum()
        if config.style.preserve_colors in ("before", "both"):
            if color_reference is None:
                raise OptionError("preserve-colors 'before' needs a content image to match")
            styles = [match_colors(s, color_reference) for s in styles]
        self.styles = list(styles)
        self.config = config
        self.loss = config.loss
        self.layer_weights = config.loss.layer_weights()
        self.net = FeatureNet(config.net, (config.loss.content_layer, *config.loss.style_layers))
        self._grams: dict[tuple[int, int], dict[str, tf.Tensor]] = {}
        self._tile_plans: dict[tuple[int, int], TilePlan] = {}
        self._strides = layer_strides(self.net.sequence, self.net.sequence)
        self._channels = self.net.channels(self.net.sequence)
        # One concrete trace per input shape: a shape-relaxed trace would compute with other
        # kernels, and a resumed run (which traces in another order) would differ in the last bits.
        self._step = tf.function(self._loss_and_grad)
        self._solver = InGraphLBFGS(self._loss_and_grad, memory=config.optimizer.lbfgs_memory)
        self.report_every = report_every

    # ---- targets -------------------------------------------------------------------
    def style_targets(self, shape_hw: tuple[int, int]) -> dict[str, tf.Tensor]:
        """Blended Gram targets for a content of size ``shape_hw`` (cached per size)."""
        if shape_hw not in self._grams:
            total = None
            for weight, style in zip(self.blend, self.styles, strict=False):
                hw = style_shape(style.shape[:2], shape_hw, self.config.style.style_scale,
                                 self.config.style.style_scale_rule)
                image = resize_to(style, hw)
                if self.tile_plan(hw).tiled and type(self)._style_grams is Stylizer._style_grams:
                    grams = self._tiled_grams(image)  # bounded memory for a 4K-sized style
                else:
                    grams = self._style_grams(self.net(tf.constant(image[None]), self.loss.style_layers), hw)
                grams = {k: float(weight) * g for k, g in grams.items()}
                total = grams if total is None else {k: total[k] + grams[k] for k in grams}
            self._grams[shape_hw] = total
        return self._grams[shape_hw]

    def _style_grams(self, feats: dict[str, tf.Tensor], style_hw: tuple[int, int]) -> dict[str, tf.Tensor]:
        """Gram targets of one style image's features (subclasses mask them per label)."""
        return {k: losses.gram_matrix(v) for k, v in feats.items()}

    def content_target(self, content: np.ndarray) -> tf.Tensor:
        """Content-layer features of ``content`` (in tiles where a step at its size is tiled)."""
        layer = self.loss.content_layer
        if not self.tile_plan(content.shape[:2]).tiled:
            return self.net(tf.constant(content[None]), (layer,))[layer]
        grid = self._forward_grid(content.shape[:2], layer)
        stride = self._strides[layer]

        def placed(tile, box):
            return {"tiles": tf.constant(1.0)}, core_of(self.net.run(tile, [layer])[layer], box, stride)

        return tiled_forward(tf.constant(content), grid, placed, placed_stride=stride,
                             placed_channels=self._channels[layer])[1]

    def _forward_grid(self, shape_hw: tuple[int, int], deepest: str) -> TileGrid:
        """Tiles of a forward-only pass to ``deepest`` (targets): one stage, full receptive field."""
        tile = self.config.optimizer.tile or auto_tile(shape_hw)
        radius, stride = receptive_field(self.net.sequence[: self.net.sequence.index(deepest) + 1])
        return plan_tiles(shape_hw, max(tile, 4 * radius), radius=radius, stride=stride)

    def _tiled_grams(self, image: np.ndarray) -> dict[str, tf.Tensor]:
        """Gram matrices of a whole image's style-layer features, summed over tiles."""
        layers = list(self.loss.style_layers)
        deepest = max(layers, key=self.net.sequence.index)
        grid = self._forward_grid(image.shape[:2], deepest)

        def grams(tile, box):
            feats = self.net.run(tile, layers)
            out = {}
            for name in layers:
                stride = self._strides[name]
                out[name] = Stylizer._gram_sum(self, core_of(feats[name], box, stride), name, box, stride, None)
            return out, None

        sums, _ = tiled_forward(tf.constant(image), grid, grams)
        h, w = image.shape[:2]
        return {n: sums[n][None] / float((h // self._strides[n]) * (w // self._strides[n])) for n in layers}

    # ---- tiles ---------------------------------------------------------------------
    def tile_plan(self, shape_hw: tuple[int, int]) -> TilePlan:
        """How one optimizer step at ``shape_hw`` is tiled (a single tile when it fits; vidstyle.tiling)."""
        shape_hw = (int(shape_hw[0]), int(shape_hw[1]))
        if shape_hw not in self._tile_plans:
            tile = self.config.optimizer.tile or auto_tile(shape_hw)
            self._tile_plans[shape_hw] = plan_stages(self.net.sequence, shape_hw, tile)
        return self._tile_plans[shape_hw]

    def _gram_sum(self, core, name: str, box, stride: int, masks):
        """Unnormalized Gram of one tile's core features (C, C); subclasses mask it per label."""
        flat = tf.reshape(core, (-1, core.shape[-1]))
        return tf.linalg.matmul(flat, flat, transpose_a=True)

    def _style_from_sums(self, sums, sizes, style_targets, masks):
        """Style term from Gram sums over the whole image ({layer: (C, C)}), as untiled."""
        grams = {n: g[None] / float(sizes[n][0] * sizes[n][1]) for n, g in sums.items()}
        return losses.style_loss(grams, {n: style_targets[n] for n in sums}, self.layer_weights)

    def _stage_fn(self, content_target, layers: list[str], *, after: str | None = None, divisor: int = 1,
                  placed: str | None = None, masks=None):
        """Per-tile statistics of ``layers``: unnormalized Grams, summed squared content differences.

        ``after``/``divisor``: the tile is the output of that layer, on a grid ``divisor`` times
        coarser than the image. ``placed``: also return the core of this layer's output.
        """
        lw = self.loss

        def stats(tile, box):
            feats = self.net.run(tile, [*layers, *([placed] if placed else [])], after=after)
            out = {}
            for name in layers:
                stride = self._strides[name] // divisor
                core = core_of(feats[name], box, stride)
                if name in lw.style_layers:
                    out[f"gram:{name}"] = self._gram_sum(core, name, box, stride, masks)
                if name == lw.content_layer:
                    y0, y1, x0, x1 = full_box(box, stride)
                    out["content"] = tf.reduce_sum(tf.square(core - content_target[:, y0:y1, x0:x1, :]))
            core = None if placed is None else core_of(feats[placed], box, self._strides[placed] // divisor)
            return out, core

        return stats

    def _combine(self, shape_hw, style_targets, layers: list[str], masks=None):
        """Content/style terms of ``layers`` from summed tile statistics (the untiled values)."""
        lw = self.loss
        sizes = {name: (shape_hw[0] // s, shape_hw[1] // s) for name, s in self._strides.items()}
        style_layers = [name for name in lw.style_layers if name in layers]

        def combine(stats):
            terms = {}
            if lw.content_layer in layers:
                (h, w), channels = sizes[lw.content_layer], self._channels[lw.content_layer]
                terms["content"] = lw.content_weight * stats["content"] / float(h * w * channels)
            if style_layers:
                sums = {n: stats[f"gram:{n}"] for n in style_layers}
                terms["style"] = lw.style_weight * self._style_from_sums(sums, sizes, style_targets, masks)
            return tf.add_n(list(terms.values())) if terms else tf.constant(0.0), terms

        return combine

    def _pixel_terms(self, image, warped, weights) -> dict[str, tf.Tensor]:
        """The per-pixel terms, cheap enough to evaluate on the whole image."""
        lw = self.loss
        return {"tv": lw.tv_weight * losses.total_variation_loss(image),
                "temporal": lw.temporal_weight * losses.temporal_loss(image, warped, weights)}

    def _tiled_feature_terms(self, x, plan: TilePlan, content_target, style_targets, masks=None):
        """Content and style terms and their gradient, tile by tile, in one or two stages."""
        layers = [self.loss.content_layer, *self.loss.style_layers]
        shape_hw = plan.image.shape_hw
        if plan.features is None:
            return tiled_value_and_grad(x, plan.image, self._stage_fn(content_target, layers, masks=masks),
                                        self._combine(shape_hw, style_targets, layers, masks))
        split, divisor = plan.split, plan.split_stride
        early = [n for n in layers if self.net.sequence.index(n) <= self.net.sequence.index(split)]
        deep = [n for n in layers if n not in early]
        early_fn = self._stage_fn(content_target, early, placed=split, masks=masks)
        stats, features = tiled_forward(x, plan.image, early_fn, placed_stride=divisor,
                                        placed_channels=self._channels[split])
        _, deep_terms, feature_grad = tiled_value_and_grad(
            features[0], plan.features,
            self._stage_fn(content_target, deep, after=split, divisor=divisor, masks=masks),
            self._combine(shape_hw, style_targets, deep, masks))
        with tf.GradientTape() as tape:
            tape.watch(stats)
            _, early_terms = self._combine(shape_hw, style_targets, early, masks)(stats)
            early_total = tf.add_n(list(early_terms.values())) if early_terms else tf.constant(0.0)
        seeds = tape.gradient(early_total, stats) if stats else {}
        grad = tiled_backward(x, plan.image, early_fn, seeds, feature_grad[None], placed_stride=divisor)
        terms = {k: early_terms.get(k, 0.0) + deep_terms.get(k, 0.0) for k in ("content", "style")}
        return tf.add_n(list(terms.values())), terms, grad

    def _tiled_loss_and_grad(self, x, plan: TilePlan, content_target, style_targets, warped, weights, masks=None):
        _, terms, grad = self._tiled_feature_terms(x, plan, content_target, style_targets, masks)
        with tf.GradientTape() as tape:
            tape.watch(x)
            pixel = self._pixel_terms(x[None], warped, weights)
            pixel_total = tf.add_n(list(pixel.values()))
        terms = {**terms, **pixel}
        return tf.add_n(list(terms.values())), terms, grad + tape.gradient(pixel_total, x)

    # ---- loss ----------------------------------------------------------------------
    def _loss_and_grad(self, x, content_target, style_targets, warped, weights):
        lw = self.loss
        plan = self.tile_plan(x.shape[:2])
        if plan.tiled:
            return self._tiled_loss_and_grad(x, plan, content_target, style_targets, warped, weights)
        with tf.GradientTape() as tape:
            tape.watch(x)
            image = x[None]
            feats = self.net(image, (lw.content_layer, *lw.style_layers))
            grams = {k: losses.gram_matrix(feats[k]) for k in lw.style_layers}
            terms = {
                "content": lw.content_weight * losses.content_loss(feats[lw.content_layer], content_target),
                "style": lw.style_weight * losses.style_loss(grams, style_targets, self.layer_weights),
                "tv": lw.tv_weight * losses.total_variation_loss(image),
            }
            terms["temporal"] = lw.temporal_weight * losses.temporal_loss(image, warped, weights)
            total = tf.add_n(list(terms.values()))
        return total, terms, tape.gradient(total, x)

    def objective_args(self, content: np.ndarray, temporal: Sequence[TemporalTarget] = ()) -> tuple:
        """The per-image constants of the objective: targets of ``content`` and temporal terms."""
        h, w = content.shape[:2]
        # No temporal terms: one target of weight 0, not an empty stack (an empty broadcast
        # crashes TensorFlow's graph optimizer inside the compiled L-BFGS loop).
        warped = np.stack([t.warped for t in temporal]) if temporal else np.zeros((1, h, w, 3), np.float32)
        weights = (np.stack([t.weights[..., None] for t in temporal]) if temporal
                   else np.zeros((1, h, w, 1), np.float32))
        warped, weights = tf.constant(warped, tf.float32), tf.constant(weights, tf.float32)
        return self.content_target(content), self.style_targets((h, w)), warped, weights

    def loss_function(self, content: np.ndarray, temporal: Sequence[TemporalTarget] = ()
                      ) -> Callable[[np.ndarray], tuple[float, dict[str, float], np.ndarray]]:
        """The objective of one image as numpy → (loss, terms, gradient), for :func:`minimize`."""
        return self._host_objective(self.objective_args(content, temporal))

    def _host_objective(self, args: tuple) -> Callable[[np.ndarray], tuple[float, dict[str, float], np.ndarray]]:
        def evaluate(x: np.ndarray):
            total, terms, grad = self._step(tf.constant(x), *args)
            return float(total), {k: float(v) for k, v in terms.items()}, grad.numpy()

        return evaluate

    def _minimize(self, args: tuple, init: np.ndarray, iterations: int,
                  callback: Callable[[Step], None] | None, shape_hw: tuple[int, int],
                  stop: tuple[float, int] | None = None) -> Result:
        """Run the configured optimizer on the objective with constants ``args``.

        ``stop`` = (tolerance, window) of the early stop; None: the configured one.
        """
        opt = self.config.optimizer
        tolerance, window = stop or (opt.tolerance, opt.window)
        try:
            if opt.optimizer == "lbfgs":
                return self._solver.minimize(init, args, iterations=iterations, tolerance=tolerance,
                                             window=window, callback=callback, report_every=self.report_every)
            return minimize(self._host_objective(args), init, opt, iterations=iterations, callback=callback,
                            stop=(tolerance, window))
        except (tf.errors.ResourceExhaustedError, MemoryError):
            raise ResourceError(f"out of memory optimizing a {shape_hw[1]}×{shape_hw[0]} image: "
                                "lower --size or use --device cpu") from None

    # ---- drivers -------------------------------------------------------------------
    def initial_image(self, content: np.ndarray, init: str | None = None, *, seed: int | None = None) -> np.ndarray:
        """The starting image for ``content``: content, recoloured content, seeded noise, style, or a file.

        "recolor" is the content with the style's colour mean and covariance (the affine map
        of Gatys et al. 2017, eq. 5–6, in the other direction): the first L-BFGS iterations
        from the plain content mostly move colours, so starting there saves them (measured
        in benchmarks/RESULTS.md, "Quality per second: images").
        """
        init = init or self.config.optimizer.init
        hw = content.shape[:2]
        if init == "content":
            return content.copy()
        if init == "recolor":
            return match_colors(content, self.styles[int(np.argmax(self.blend))])
        if init == "random":
            rng = np.random.default_rng(self.config.optimizer.seed if seed is None else seed)
            return rng.uniform(0, 1, content.shape).astype(np.float32)
        if init == "style":
            return resize_to(self.styles[0], hw)
        return resize_to(load_image(init), hw)

    def optimize(self, content: np.ndarray, init: np.ndarray, *, iterations: int,
                 temporal: Sequence[TemporalTarget] = (), callback: Callable[[Step], None] | None = None,
                 stop: tuple[float, int] | None = None) -> Result:
        """One level: minimize the full objective from ``init`` at ``content``'s size.

        ``stop`` = (tolerance, window) of the early stop; None: the configured one.
        """
        return self._minimize(self.objective_args(content, temporal), init, iterations, callback,
                              content.shape[:2], stop)

    def refine(self, content: np.ndarray, init: np.ndarray, *, iterations: int,
               temporal: Sequence[TemporalTarget] = (), callback: Callable[[Step], None] | None = None
               ) -> Result:
        """A video frame after the first, from its warped init: coarse corrections, then full size.

        Each coarse level optimizes the downsampled init (with downsampled temporal
        targets) and adds only its *change*, upsampled, to the full-size init, so the
        fine detail carried over by the warp is kept (upsampling the coarse result
        itself would blur it). Every level stops early by ``frame_stop()``.
        """
        opt = self.config.optimizer
        stop = opt.frame_stop()
        full_hw = content.shape[:2]
        shapes = pyramid_shapes(full_hw, opt.frame_pyramid)
        budgets = opt.frame_level_iterations(iterations)[-len(shapes):]
        current, done, seconds = init, 0, 0.0
        for level, (hw, budget) in enumerate(zip(shapes, budgets, strict=False), start=1):
            def report(step: Step, level=level):
                if callback is not None:
                    callback(dataclasses.replace(step, level=level, levels=len(shapes)))

            if hw == full_hw:
                result = self.optimize(content, current, iterations=budget, temporal=temporal, callback=report,
                                       stop=stop)
                break
            start = resize_to(current, hw)
            small = [TemporalTarget(resize_to(t.warped, hw), resize_to(t.weights, hw)) for t in temporal]
            coarse = self.optimize(resize_to(content, hw), start, iterations=budget, temporal=small,
                                   callback=report, stop=stop)
            change = cv2.resize(coarse.image - start, full_hw[::-1], interpolation=cv2.INTER_LINEAR)
            current = np.clip(current + change, 0.0, 1.0).astype(np.float32)
            done, seconds = done + coarse.iterations, seconds + coarse.seconds
        result.iterations += done
        result.seconds += seconds
        return self.finish(result, content)

    def stylize(self, content: np.ndarray, *, init: np.ndarray | None = None, iterations: int | None = None,
                callback: Callable[[Step], None] | None = None) -> Result:
        """Coarse-to-fine stylization of one image (no temporal terms).

        Each pyramid level is initialized with the previous level's result upsampled;
        the first level with ``init`` (default: the configured init) downsampled.
        ``iterations`` defaults to ``first_iterations`` (else ``iterations``).
        """
        opt = self.config.optimizer
        # From scratch, as a video's first frame: the first-frame budget when there is one.
        # Large images spend most of it at a coarse level (OptimizerSettings.large_side).
        levels, budgets = opt.levels_for(max(content.shape[:2]), iterations or opt.first_iterations or opt.iterations)
        shapes = pyramid_shapes(content.shape[:2], levels)
        budgets = budgets[-len(shapes):]
        current = self.initial_image(content) if init is None else init
        result = None
        for level, (hw, budget) in enumerate(zip(shapes, budgets, strict=False), start=1):
            level_content = resize_to(content, hw)

            def report(step: Step, level=level):
                if callback is not None:
                    callback(dataclasses.replace(step, level=level, levels=len(shapes)))

            result = self._optimize_level(level_content, resize_to(current, hw), budget, report,
                                          final=level == len(shapes))
            current = result.image
        return self.finish(result, content)

    def _optimize_level(self, content: np.ndarray, init: np.ndarray, iterations: int,
                        callback: Callable[[Step], None], *, final: bool) -> Result:
        """One pyramid level; subclasses may run coarse (non-final) levels differently."""
        return self.optimize(content, init, iterations=iterations, callback=callback)

    def finish(self, result: Result, content: np.ndarray) -> Result:
        """Post-processing of a finished image: colour preservation "after"."""
        if self.config.style.preserve_colors in ("after", "both"):
            result.image = transfer_luminance(result.image, content)
        return result


def load_style_images(paths: Sequence, content_hw: tuple[int, int]) -> list[np.ndarray]:
    """Load style images, downscaled on load to at most twice the content's long side.

    They are rescaled again per working size (long side = style_scale × the content's long
    side by default), so anything larger only costs memory.
    """
    return [load_image(p, max_side=2 * max(content_hw)) for p in paths]


def stylize_image(content: np.ndarray, styles: Sequence[np.ndarray], config: Config, *,
                  callback: Callable[[Step], None] | None = None) -> Result:
    """Stylize one image (already at working size) with the styles; see :class:`Stylizer`."""
    return Stylizer(styles, config, color_reference=content).stylize(content, callback=callback)
