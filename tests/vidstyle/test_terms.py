"""The objective as a list of terms: stage plans, adding a term, switching terms off."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from vidstyle.config import Config, NetSettings, OptimizerSettings
from vidstyle.stylize import Stylizer
from vidstyle.terms import PixelTerm, Stage, default_terms, stage_runs, with_terms
from vidstyle.tiling import plan_stages

FLOAT32 = NetSettings(precision="float32")  # tiled sums equal untiled ones exactly in float32
LUAN = (Stage(0.5, frozenset({"matting"})), Stage())


def brightness_loss(image: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """A newcomer's term: squared distance of the mean brightness to a target."""
    with tf.name_scope("brightness"):
        return tf.square(tf.reduce_mean(image) - target)


def brightness(weight: float, **options) -> PixelTerm:
    return PixelTerm("brightness", weight, brightness_loss, build=lambda stylizer, frame: (tf.constant(0.9),),
                     **options)


def _config(**optimizer) -> Config:
    return Config(size=64, net=FLOAT32, optimizer=OptimizerSettings(**{"iterations": 4, "tolerance": 0, **optimizer}))


@pytest.mark.parametrize(("stages", "iterations", "off", "runs"), [
    ((Stage(),), 10, (), [(10, set())]),
    (LUAN, 6, (), [(3, {"matting"}), (3, set())]),
    (LUAN, 6, ("matting",), [(6, {"matting"})]),  # off anyway (coarse level, λ = 0): one run
    (LUAN, 1, (), [(1, set())]),  # no iteration left for stage 1
    (LUAN, 0, (), [(0, set())]),
    ((Stage(0.99, frozenset({"tv"})), Stage()), 10, ("x",), [(9, {"tv", "x"}), (1, {"x"})]),
])
def test_stage_runs(stages, iterations, off, runs):
    assert [(n, set(left_out)) for n, left_out in stage_runs(stages, iterations, off)] == runs


def test_with_terms_replaces_by_name_and_appends(style64):
    terms = default_terms(_config().loss)
    tv = PixelTerm("tv", 1.0, brightness_loss)
    added = with_terms(terms, tv, brightness(1.0))
    assert [t.name for t in added] == ["content", "style", "tv", "temporal", "brightness"]
    assert added[2] is tv and terms[2] is not tv  # the input list is left alone
    with pytest.raises(ValueError, match="unique"):
        Stylizer([style64], _config(), terms=[*terms, tv])


def test_an_added_term_is_summed_with_its_gradient_tiled_or_not(content64, style64):
    config = _config()
    plain = Stylizer([style64], config)
    weight = 1e4
    extra = Stylizer([style64], config, terms=with_terms(default_terms(config.loss), brightness(weight)))
    x = np.clip(content64 + 0.1, 0, 1).astype(np.float32)
    loss0, terms0, grad0 = plain.loss_function(content64)(x)
    loss, terms, grad = extra.loss_function(content64)(x)
    expected = weight * (x.mean() - 0.9) ** 2
    assert terms["brightness"] == pytest.approx(expected, rel=1e-5)
    assert loss == pytest.approx(loss0 + expected, rel=1e-6)
    assert {k: terms[k] for k in terms0} == terms0
    d = 2 * weight * (x.mean() - 0.9) / x.size  # ∂/∂x_k of w·(mean(x) − 0.9)²
    np.testing.assert_allclose(grad - grad0, np.full_like(x, d), rtol=1e-3, atol=1e-6 * np.abs(grad0).max())
    # Tiled: the feature terms in tiles, the pixel terms (the added one too) on the whole image.
    extra._tile_plans[content64.shape[:2]] = plan_stages(extra.net.sequence, content64.shape[:2], 32)
    assert extra.tile_plan(content64.shape[:2]).tiled
    tiled_loss, tiled_terms, tiled_grad = extra.loss_function(content64)(x)
    assert tiled_loss == pytest.approx(loss, rel=1e-4)
    assert tiled_terms["brightness"] == pytest.approx(terms["brightness"], rel=1e-6)
    assert np.linalg.norm(tiled_grad - grad) <= 1e-4 * np.linalg.norm(grad)


def test_a_term_of_weight_zero_is_off_and_not_traced(content64, style64):
    config = _config()
    built = []

    def build(stylizer, frame):
        built.append(frame.content.shape)
        return (tf.constant(0.9),)

    def ops(weight):
        stylizer = Stylizer([style64], config, terms=with_terms(
            default_terms(config.loss), PixelTerm("brightness", weight, brightness_loss, build=build)))
        constants = stylizer.term_constants(content64)
        graph = stylizer._step.get_concrete_function(tf.constant(content64), constants).graph
        return stylizer, constants, [op.name for op in graph.get_operations() if "brightness" in op.name]

    stylizer, constants, traced = ops(0.0)
    assert constants["brightness"] is None and not built and not traced
    assert stylizer.loss_function(content64)(content64)[1]["brightness"] == 0
    assert ops(1.0)[2] and built  # the same term with a weight: built and traced


def test_stage_plan_switches_terms_within_one_optimization(content64, style64):
    stylizer = Stylizer([style64], _config(), stages=(Stage(0.5, frozenset({"tv"})), Stage()))
    steps = []
    result = stylizer.optimize(content64, content64, iterations=4, callback=steps.append)
    assert [s.iteration for s in steps] == [1, 2, 3, 4] and all(s.iterations == 4 for s in steps)
    assert [s.terms["tv"] == 0 for s in steps] == [True, True, False, False]
    assert result.iterations == 4 and result.terms["tv"] > 0 and len(result.history) == 4


def test_full_size_term_is_off_on_coarse_levels(style64):
    import cv2

    content = cv2.resize(style64, (96, 72), interpolation=cv2.INTER_AREA)  # 36×48 coarse level
    config = _config(pyramid=2, frame_pyramid=2)
    stylizer = Stylizer([style64], config, terms=with_terms(default_terms(config.loss), brightness(1.0, coarse=False)))
    levels = []
    stylizer.stylize(content, callback=lambda s: levels.append((s.level, s.terms["brightness"] > 0)))
    assert sorted(set(levels)) == [(1, False), (2, True)]
    levels.clear()
    stylizer.refine(content, content, iterations=2,
                    callback=lambda s: levels.append((s.level, s.terms["brightness"] > 0)))
    assert sorted(set(levels)) == [(1, False), (2, True)]
    with pytest.raises(KeyError, match="no loss term 'missing'"):
        stylizer.term("missing")
