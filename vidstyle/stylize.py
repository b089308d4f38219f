"""Gatys image stylization: targets once, a compiled loss step, coarse-to-fine driver.

:class:`Stylizer` holds the feature net, a list of loss terms (`vidstyle.terms`) and
their targets (content features, Gram matrices per working size), and optimizes one
image at a time; the video pipeline reuses it per frame with temporal targets. The
compiled step sums the terms: the feature terms read one shared pass of the net (in
tiles where a step does not fit in memory, `vidstyle.tiling`), the pixel terms the
image. A stage plan (`vidstyle.terms.Stage`) may switch terms on and off within one
optimization; coarse pyramid levels leave out the terms meant for the full size only.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import tensorflow as tf

from vidstyle.color import match_colors, transfer_luminance
from vidstyle.config import Config
from vidstyle.errors import OptionError, ResourceError
from vidstyle.images import load_image, resize_to
from vidstyle.lbfgs import ITERATIONS_PER_CALL, InGraphLBFGS
from vidstyle.net import FeatureNet
from vidstyle.optimize import Result, Step, minimize
from vidstyle.terms import STYLE, Frame, Stage, TemporalTarget, default_terms, stage_runs
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

if TYPE_CHECKING:  # pragma: no cover - typing only
    from vidstyle.regions import FrameMasks

__all__ = ["Stylizer", "TemporalTarget", "load_style_images", "pyramid_shapes", "style_shape", "stylize_image"]

logger = logging.getLogger(__name__)

MIN_LEVEL_SIDE = 32  # coarser pyramid levels than this carry too little for VGG's 5 poolings


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
    terms : sequence of terms, optional
        The loss terms (`vidstyle.terms`), names unique; default
        ``default_terms(config.loss)``: content, style, total variation, temporal.
    stages : sequence of Stage, optional
        The stage plan of one optimization at full size; default one stage, every term on.
    """

    def __init__(self, styles: Sequence[np.ndarray], config: Config, *,
                 color_reference: np.ndarray | None = None, report_every: int = ITERATIONS_PER_CALL,
                 terms: Sequence[Any] | None = None, stages: Sequence[Stage] | None = None):
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
        self.terms = list(default_terms(config.loss) if terms is None else terms)
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names):
            raise ValueError(f"loss term names must be unique, got {names}")
        self.stages = tuple(stages or (Stage(),))
        self.frame: FrameMasks | None = None
        self.net = FeatureNet(config.net, _layers(self.terms))
        self._grams: dict[tuple[str, tuple[int, int]], dict[str, tf.Tensor]] = {}
        self._tile_plans: dict[tuple[int, int], TilePlan] = {}
        self._strides = layer_strides(self.net.sequence, self.net.sequence)
        self._channels = self.net.channels(self.net.sequence)
        # One concrete trace per input shape: a shape-relaxed trace would compute with other
        # kernels, and a resumed run (which traces in another order) would differ in the last bits.
        self._step = tf.function(self._loss_and_grad)
        self._solver = InGraphLBFGS(self._loss_and_grad, memory=config.optimizer.lbfgs_memory)
        self.report_every = report_every

    def term(self, name: str) -> Any:
        """The loss term called ``name``."""
        for term in self.terms:
            if term.name == name:
                return term
        raise KeyError(f"no loss term {name!r}; terms: {[t.name for t in self.terms]}")

    def set_frame(self, masks: FrameMasks | None) -> None:
        """Masks (labels, region) of the next content frame, full working size; terms that read
        masks use them (`vidstyle.terms.SegmentedStyleTerm`)."""
        self.frame = masks

    # ---- targets -------------------------------------------------------------------
    def style_targets(self, shape_hw: tuple[int, int], term: Any = None) -> dict[str, tf.Tensor]:
        """Blended style targets of ``term`` (default: the "style" term) for a content of size
        ``shape_hw`` (cached per term and size): its Gram statistics of each style image."""
        term = self.term(STYLE) if term is None else term
        key = (term.name, (int(shape_hw[0]), int(shape_hw[1])))
        if key not in self._grams:
            total = None
            for weight, style in zip(self.blend, self.styles, strict=False):
                hw = style_shape(style.shape[:2], shape_hw, self.config.style.style_scale,
                                 self.config.style.style_scale_rule)
                image = resize_to(style, hw)
                masks = term.style_masks(self.net, hw)
                if self.tile_plan(hw).tiled:
                    grams = self._tiled_grams(image, term, masks)  # bounded memory for a 4K-sized style
                else:
                    grams = term.grams(self.net(tf.constant(image[None]), term.layers), masks)
                grams = {k: float(weight) * g for k, g in grams.items()}
                total = grams if total is None else {k: total[k] + grams[k] for k in grams}
            self._grams[key] = total
        return self._grams[key]

    def content_target(self, content: np.ndarray, layer: str | None = None) -> tf.Tensor:
        """Features of ``content`` at ``layer`` (default: the content layer), in tiles where a
        step at its size is tiled."""
        layer = layer or self.loss.content_layer
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

    def _tiled_grams(self, image: np.ndarray, term: Any, masks: Any) -> dict[str, tf.Tensor]:
        """A style term's statistics of a whole image, from its sums over tiles."""
        layers = list(term.layers)
        deepest = max(layers, key=self.net.sequence.index)
        grid = self._forward_grid(image.shape[:2], deepest)

        def sums(tile, box):
            feats = self.net.run(tile, layers)
            cores = {n: core_of(feats[n], box, self._strides[n]) for n in layers}
            return term.gram_sums(cores, {n: full_box(box, self._strides[n]) for n in layers}, masks), None

        totals, _ = tiled_forward(tf.constant(image), grid, sums)
        h, w = image.shape[:2]
        return term.grams_from_sums(totals, {n: (h // self._strides[n], w // self._strides[n]) for n in layers},
                                    masks)

    # ---- tiles ---------------------------------------------------------------------
    def tile_plan(self, shape_hw: tuple[int, int]) -> TilePlan:
        """How one optimizer step at ``shape_hw`` is tiled (a single tile when it fits; vidstyle.tiling)."""
        shape_hw = (int(shape_hw[0]), int(shape_hw[1]))
        if shape_hw not in self._tile_plans:
            tile = self.config.optimizer.tile or auto_tile(shape_hw)
            self._tile_plans[shape_hw] = plan_stages(self.net.sequence, shape_hw, tile)
        return self._tile_plans[shape_hw]

    def _stage_fn(self, constants, terms, layers: list[str], *, after: str | None = None, divisor: int = 1,
                  placed: str | None = None):
        """Per-tile sums of the feature ``terms`` over ``layers`` ({"term/layer": tensor}).

        ``after``/``divisor``: the tile is the output of that layer, on a grid ``divisor`` times
        coarser than the image. ``placed``: also return the core of this layer's output.
        """
        def stats(tile, box):
            feats = self.net.run(tile, [*layers, *([placed] if placed else [])], after=after)
            strides = {name: self._strides[name] // divisor for name in layers}
            cores = {name: core_of(feats[name], box, strides[name]) for name in layers}
            boxes = {name: full_box(box, strides[name]) for name in layers}
            out = {}
            for term in terms:
                mine = [name for name in term.layers if name in cores]
                if mine:
                    sums = term.tile_sums({n: cores[n] for n in mine}, {n: boxes[n] for n in mine},
                                          constants[term.name])
                    out.update({f"{term.name}/{n}": v for n, v in sums.items()})
            core = None if placed is None else core_of(feats[placed], box, self._strides[placed] // divisor)
            return out, core

        return stats

    def _combine(self, shape_hw, constants, terms, layers: list[str]):
        """Values of the feature ``terms`` over ``layers`` from summed tile statistics (the untiled values)."""
        sizes = {name: (shape_hw[0] // s, shape_hw[1] // s) for name, s in self._strides.items()}

        def combine(stats):
            values = {}
            for term in terms:
                mine = [name for name in term.layers if name in layers]
                if mine:
                    sums = {n: stats[f"{term.name}/{n}"] for n in mine}
                    values[term.name] = term.from_sums(sums, sizes, constants[term.name])
            return tf.add_n(list(values.values())) if values else tf.constant(0.0), values

        return combine

    def _tiled_feature_terms(self, x, plan: TilePlan, constants, terms):
        """The feature terms and their gradient, tile by tile, in one or two stages."""
        layers = list(_layers(terms))
        shape_hw = plan.image.shape_hw
        if plan.features is None:
            return tiled_value_and_grad(x, plan.image, self._stage_fn(constants, terms, layers),
                                        self._combine(shape_hw, constants, terms, layers))
        split, divisor = plan.split, plan.split_stride
        early = [n for n in layers if self.net.sequence.index(n) <= self.net.sequence.index(split)]
        deep = [n for n in layers if n not in early]
        early_fn = self._stage_fn(constants, terms, early, placed=split)
        stats, features = tiled_forward(x, plan.image, early_fn, placed_stride=divisor,
                                        placed_channels=self._channels[split])
        _, deep_values, feature_grad = tiled_value_and_grad(
            features[0], plan.features,
            self._stage_fn(constants, terms, deep, after=split, divisor=divisor),
            self._combine(shape_hw, constants, terms, deep))
        with tf.GradientTape() as tape:
            tape.watch(stats)
            _, early_values = self._combine(shape_hw, constants, terms, early)(stats)
            early_total = tf.add_n(list(early_values.values())) if early_values else tf.constant(0.0)
        seeds = tape.gradient(early_total, stats) if stats else {}
        grad = tiled_backward(x, plan.image, early_fn, seeds, feature_grad[None], placed_stride=divisor)
        values = {t.name: early_values.get(t.name, 0.0) + deep_values.get(t.name, 0.0) for t in terms}
        return tf.add_n(list(values.values())), values, grad

    def _tiled_loss_and_grad(self, x, plan: TilePlan, constants):
        on = [t for t in self.terms if constants[t.name] is not None]
        features, pixels = [t for t in on if t.layers], [t for t in on if not t.layers]
        values, grad = {}, tf.zeros_like(x)
        if features:
            _, values, grad = self._tiled_feature_terms(x, plan, constants, features)
        if pixels:  # cheap enough to evaluate on the whole image
            with tf.GradientTape() as tape:
                tape.watch(x)
                pixel = {t.name: t.value(x[None], constants[t.name]) for t in pixels}
                pixel_total = tf.add_n(list(pixel.values()))
            values = {**values, **pixel}
            grad = grad + tape.gradient(pixel_total, x)
        values = {t.name: values[t.name] if t.name in values else tf.zeros((), x.dtype) for t in self.terms}
        return tf.add_n(list(values.values())), values, grad

    # ---- loss ----------------------------------------------------------------------
    def _loss_and_grad(self, x, constants):
        """(total, {term: value}, ∂total/∂x) of ``Σ_t weight_t · loss_t`` at x (H, W, 3).

        ``constants``: {term name: its constants, or None for a term that is off}.
        """
        plan = self.tile_plan(x.shape[:2])
        if plan.tiled:
            return self._tiled_loss_and_grad(x, plan, constants)
        on = [t for t in self.terms if constants[t.name] is not None]
        layers = _layers(on)
        with tf.GradientTape() as tape:
            tape.watch(x)
            image = x[None]
            features = self.net(image, layers) if layers else {}
            values = {t.name: (t.value(features if t.layers else image, constants[t.name])
                               if constants[t.name] is not None else tf.zeros((), x.dtype))
                      for t in self.terms}
            total = tf.add_n(list(values.values()))
        # Every term off (all weights 0): the gradient is 0, not None.
        return total, values, tape.gradient(total, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def term_constants(self, content: np.ndarray, temporal: Sequence[TemporalTarget] = (), *,
                       off: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The per-image constants of the objective, {term name: constants}: targets of
        ``content``, temporal terms, masks of the current frame (`set_frame`).

        Terms named in ``off`` and terms of weight 0 get None: the compiled step has none of
        their ops, and their constants (a Matting Laplacian, say) are not built.
        """
        return self._constants(Frame(content, tuple(temporal), self.frame), off)

    def _constants(self, frame: Frame, off: frozenset[str]) -> dict[str, Any]:
        return {t.name: None if t.name in off or t.weight == 0 else t.constants(self, frame) for t in self.terms}

    def loss_function(self, content: np.ndarray, temporal: Sequence[TemporalTarget] = ()
                      ) -> Callable[[np.ndarray], tuple[float, dict[str, float], np.ndarray]]:
        """The objective of one image as numpy → (loss, terms, gradient), for :func:`minimize`."""
        return self._host_objective(self.term_constants(content, temporal))

    def _host_objective(self, constants: dict[str, Any]
                        ) -> Callable[[np.ndarray], tuple[float, dict[str, float], np.ndarray]]:
        def evaluate(x: np.ndarray):
            total, terms, grad = self._step(tf.constant(x), constants)
            return float(total), {k: float(v) for k, v in terms.items()}, grad.numpy()

        return evaluate

    def _minimize(self, constants: dict[str, Any], init: np.ndarray, iterations: int,
                  callback: Callable[[Step], None] | None, shape_hw: tuple[int, int],
                  stop: tuple[float, int] | None = None) -> Result:
        """Run the configured optimizer on the objective with ``constants``.

        ``stop`` = (tolerance, window) of the early stop; None: the configured one.
        """
        opt = self.config.optimizer
        tolerance, window = stop or (opt.tolerance, opt.window)
        try:
            if opt.optimizer == "lbfgs":
                return self._solver.minimize(init, (constants,), iterations=iterations, tolerance=tolerance,
                                             window=window, callback=callback, report_every=self.report_every)
            return minimize(self._host_objective(constants), init, opt, iterations=iterations, callback=callback,
                            stop=(tolerance, window))
        except (tf.errors.ResourceExhaustedError, MemoryError):
            raise ResourceError(f"out of memory optimizing a {shape_hw[1]}×{shape_hw[0]} image: "
                                "lower --size or use --device cpu") from None

    def _run_stages(self, content: np.ndarray, init: np.ndarray, iterations: int,
                    temporal: Sequence[TemporalTarget], callback: Callable[[Step], None] | None,
                    stop: tuple[float, int] | None, *, coarse: bool) -> Result:
        """One size: the stage plan, each stage from the last one's result, as one Result.

        ``coarse``: a coarse pyramid level, without the terms meant for the full size only.
        Terms of weight 0 are off in every stage, so stages that differ only by them run as
        one (the L-BFGS memory carries on). Steps count on over the stages (iteration k of
        ``iterations``).
        """
        frame = Frame(content, tuple(temporal), self.frame)
        left_out = {t.name for t in self.terms if t.weight == 0 or (coarse and not t.coarse)}
        runs = stage_runs(self.stages, iterations, left_out)
        shape_hw = content.shape[:2]
        if len(runs) == 1:
            return self._minimize(self._constants(frame, runs[0][1]), init, runs[0][0], callback, shape_hw, stop)
        results: list[Result] = []
        for count, off in runs:
            done = sum(r.iterations for r in results)

            def report(step: Step, offset=done) -> None:
                if callback is not None:
                    callback(dataclasses.replace(step, iteration=step.iteration + offset, iterations=iterations))

            results.append(self._minimize(self._constants(frame, off), init, count, report, shape_hw, stop))
            init = results[-1].image
        last = results[-1]
        return Result(last.image, sum(r.iterations for r in results), last.loss, last.terms,
                      sum(r.seconds for r in results), last.stopped_early,
                      [loss for r in results for loss in r.history], stop_reason=last.stop_reason)

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
        """One level at full size: minimize the objective from ``init`` at ``content``'s size,
        stage by stage (`stages`).

        ``stop`` = (tolerance, window) of the early stop; None: the configured one.
        """
        return self._run_stages(content, init, iterations, temporal, callback, stop, coarse=False)

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
            coarse = self._run_stages(resize_to(content, hw), start, budget, small, report, stop, coarse=True)
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

            result = self._run_stages(level_content, resize_to(current, hw), budget, (), report, None,
                                      coarse=level != len(shapes))
            current = result.image
        return self.finish(result, content)

    def finish(self, result: Result, content: np.ndarray) -> Result:
        """Post-processing of a finished image: colour preservation "after"."""
        if self.config.style.preserve_colors in ("after", "both"):
            result.image = transfer_luminance(result.image, content)
        return result


def _layers(terms: Sequence[Any]) -> tuple[str, ...]:
    """The feature layers ``terms`` read, each once, in the order of the terms."""
    return tuple(dict.fromkeys(name for term in terms for name in term.layers))

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
