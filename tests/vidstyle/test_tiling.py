"""Tiled objective: exact equality with the untiled loss and gradient, tile planning, memory knobs."""

from __future__ import annotations

import numpy as np
import pytest

from vidstyle.config import Config, NetSettings, OptimizerSettings
from vidstyle.errors import OptionError
from vidstyle.stylize import Stylizer
from vidstyle.terms import SegmentedStyleTerm
from vidstyle.tiling import TilePlan, auto_tile, plan_stages, plan_tiles, receptive_field

# Tiled sums equal untiled ones exactly in float32; bfloat16 rounds each tile differently.
FLOAT32 = NetSettings(precision="float32")


@pytest.fixture(scope="module")
def noisy(content64):
    import cv2

    content = cv2.resize(content64, (128, 96), interpolation=cv2.INTER_LINEAR)
    x = np.clip(content + np.random.default_rng(0).normal(0, 0.1, content.shape), 0, 1).astype(np.float32)
    return content, x


def _evaluate(stylizer, content, x, plan=None):
    if plan is not None:
        stylizer._tile_plans[content.shape[:2]] = plan
    return stylizer.loss_function(content)(x)


def _assert_close(reference, tiled):
    (l0, t0, g0), (l1, t1, g1) = reference, tiled
    assert abs(l1 - l0) <= 1e-4 * abs(l0)
    for name in t0:
        assert abs(t1[name] - t0[name]) <= 1e-4 * abs(l0), name
    assert np.linalg.norm(g1 - g0) <= 1e-4 * np.linalg.norm(g0)


def test_receptive_field_of_vgg16_to_relu5_1():
    stylizer_sequence = Stylizer.__init__  # noqa: F841  (the net's own sequence is tested below)
    from vidstyle.net import layer_sequence

    sequence = layer_sequence("vgg16")
    radius, stride = receptive_field(sequence[: sequence.index("relu5_1") + 1])
    assert (radius, stride) == (73, 16)
    assert receptive_field(sequence[: sequence.index("pool2") + 1]) == (9, 4)


@pytest.mark.parametrize("stages", ["one", "two"])
def test_tiled_loss_and_gradient_equal_untiled(style64, noisy, stages):
    content, x = noisy
    reference = _evaluate(Stylizer([style64], Config(net=FLOAT32)), content, x)
    stylizer = Stylizer([style64], Config(net=FLOAT32))
    sequence = stylizer.net.sequence
    if stages == "one":  # the whole net per tile, halo = its receptive field
        radius, stride = receptive_field(sequence)
        plan = TilePlan(plan_tiles(content.shape[:2], 120, radius=radius, stride=stride))
    else:  # early layers in tiles, the rest in tiles of their output (4× coarser)
        k = sequence.index("pool2") + 1
        first = plan_tiles(content.shape[:2], 64, radius=9, stride=4)
        deep_radius, deep_stride = receptive_field(sequence[k:])
        plan = TilePlan(first, plan_tiles((24, 32), 30, radius=deep_radius, stride=deep_stride), "pool2", 4)
        assert len(plan.features) > 1
    assert len(plan.image) > 1
    _assert_close(reference, _evaluate(stylizer, content, x, plan))


def test_tiled_optimization_matches_untiled(style64, noisy):
    content, _ = noisy
    settings = {"iterations": 4, "pyramid": 1}
    untiled = Stylizer([style64], Config(net=FLOAT32, optimizer=OptimizerSettings(**settings))).stylize(content)
    stylizer = Stylizer([style64], Config(net=FLOAT32, optimizer=OptimizerSettings(**settings)))
    stylizer._tile_plans[content.shape[:2]] = plan_stages(stylizer.net.sequence, content.shape[:2], 64)
    assert stylizer.tile_plan(content.shape[:2]).tiled
    tiled = stylizer.stylize(content)
    assert tiled.iterations == untiled.iterations
    assert abs(tiled.loss - untiled.loss) <= 1e-2 * untiled.loss  # L-BFGS amplifies last-bit differences
    assert np.abs(tiled.image - untiled.image).max() < 2e-2


def test_tiles_partition_the_image_and_align_to_the_pooling():
    grid = plan_tiles((1080, 1920), 512, radius=9, stride=4)
    cover = np.zeros((1080, 1920), np.int32)
    for cy0, cy1, cx0, cx1, py0, py1, px0, px1 in grid.boxes:
        cover[cy0:cy1, cx0:cx1] += 1
        assert cy0 % 4 == 0 and cx0 % 4 == 0 and py0 % 4 == 0 and px0 % 4 == 0
        assert py0 <= cy0 and py1 >= cy1 and max(py1 - py0, px1 - px0) <= 512 + 4
        assert (py0 == 0 or cy0 - py0 >= 9) and (py1 == 1080 or py1 - cy1 >= 9)
    assert (cover == 1).all()


def test_plan_is_single_when_the_image_fits_and_two_stage_when_not():
    from vidstyle.net import layer_sequence

    sequence = layer_sequence("vgg16")[: layer_sequence("vgg16").index("relu5_1") + 1]
    assert not plan_stages(sequence, (720, 1280), 1280).tiled
    plan = plan_stages(sequence, (2160, 3840), 1024)
    assert plan.tiled and plan.split == "pool2" and plan.features.shape_hw == (540, 960)
    assert plan.image.overhead < 0.1  # a 12 px halo on ~1000 px tiles


def test_auto_tile_follows_the_memory_budget():
    assert auto_tile((512, 512), budget_bytes=8 << 30) == 512  # fits: no tiling
    small = auto_tile((2160, 3840), budget_bytes=4 << 30)
    assert 256 <= small < 3840
    assert auto_tile((2160, 3840), budget_bytes=1 << 20) == 256  # never below the minimum


def test_tile_option_is_validated():
    with pytest.raises(OptionError, match="--tile"):
        OptimizerSettings(tile=100)


def test_targets_in_tiles_equal_the_whole_image_ones(style64, noisy):
    content, _ = noisy
    whole = Stylizer([style64], Config(net=FLOAT32))
    tiled = Stylizer([style64], Config(net=FLOAT32, optimizer=OptimizerSettings(tile=256)))
    shape = content.shape[:2]
    # Force tiled targets at this small size: a plan that tiles, and forward tiles of 100 px.
    tiled._tile_plans[shape] = plan_stages(tiled.net.sequence, shape, 64)
    def forward_grid(hw, deepest):
        radius, stride = receptive_field(tiled.net.sequence[: tiled.net.sequence.index(deepest) + 1])
        return plan_tiles(hw, 120, radius=radius, stride=stride)

    tiled._forward_grid = forward_grid
    np.testing.assert_allclose(tiled.content_target(content).numpy(), whole.content_target(content).numpy(),
                               rtol=1e-4, atol=1e-4)
    # Plain Grams, and Grams per label slot (segmented style: the slot masks cropped per tile).
    style_labels = np.zeros(shape, np.int32)
    style_labels[:, 70:] = 2
    style_labels[60:, :40] = 5
    for term in (whole.term("style"), SegmentedStyleTerm(1.0, whole.layer_weights, style_labels)):
        masks = term.style_masks(whole.net, shape)
        expected = term.grams(whole.net(content[None], term.layers), masks)
        assert set(expected) == set(whole.loss.style_layers)
        for name, gram in tiled._tiled_grams(content, term, masks).items():
            np.testing.assert_allclose(gram.numpy(), expected[name].numpy(), rtol=1e-4, atol=1e-6)


def test_photoreal_tiled_equals_untiled(style64, noisy):
    from vidstyle.config import PhotorealSettings
    from vidstyle.photoreal import PhotorealStylizer
    from vidstyle.regions import FrameMasks

    content, x = noisy
    style_labels = np.zeros(style64.shape[:2], np.int32)
    style_labels[:, 32:] = 1
    labels = np.zeros(content.shape[:2], np.int32)
    labels[:, 50:] = 1
    labels[70:, :30] = 4  # a label the style lacks: the whole-style fallback slot

    def stylizer():
        made = PhotorealStylizer([style64], Config(net=FLOAT32, photoreal=PhotorealSettings(enabled=True)),
                                 style_labels=style_labels)
        made.set_frame(FrameMasks(labels=labels))
        return made

    reference = stylizer().loss_function(content)(x)
    tiled = stylizer()
    tiled._tile_plans[content.shape[:2]] = plan_stages(tiled.net.sequence, content.shape[:2], 64)
    result = tiled.loss_function(content)(x)
    assert reference[1]["matting"] > 0
    _assert_close(reference, result)
