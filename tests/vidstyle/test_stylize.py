"""Image stylization end to end on tiny real photos (≤ 64 px, ≤ 20 iterations)."""

import dataclasses

import numpy as np
import pytest

from vidstyle.color import match_colors, transfer_luminance
from vidstyle.config import Config, OptimizerSettings, StyleSettings
from vidstyle.errors import OptionError
from vidstyle.images import resize_to
from vidstyle.stylize import Stylizer, pyramid_shapes, style_shape


def _config(**optimizer):
    return Config(size=64, optimizer=OptimizerSettings(**{"iterations": 20, **optimizer}))


@pytest.fixture(scope="module")
def stylizer(style64):
    return Stylizer([style64], _config())


def test_style_loss_falls_a_lot(stylizer, content64):
    steps = []
    first = stylizer.loss_function(content64)(content64)[1]["style"]  # at the content init
    result = stylizer.stylize(content64, callback=steps.append)
    last = result.terms["style"]
    assert last < 0.2 * first
    assert result.image.shape == content64.shape and result.image.dtype == np.float32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert [s.iteration for s in steps] == list(range(1, len(steps) + 1))


def test_same_seed_same_output_bit_identical(style64, content64):
    config = _config(init="random", seed=7, iterations=8)
    a = Stylizer([style64], config).stylize(content64).image
    b = Stylizer([style64], config).stylize(content64).image
    c = Stylizer([style64], dataclasses.replace(config, optimizer=dataclasses.replace(
        config.optimizer, seed=8))).stylize(content64).image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_adam_also_lowers_loss(style64, content64):
    result = Stylizer([style64], _config(optimizer="adam", learning_rate=0.05)).stylize(content64)
    assert result.history[-1] < 0.7 * result.history[0]


def test_early_stop(stylizer, content64):
    config = _config(iterations=200, tolerance=0.5, window=3)
    result = Stylizer(stylizer.styles, config).stylize(content64)
    assert result.stopped_early and result.iterations < 200


def test_pyramid_runs_coarse_to_fine(style64, content64):
    content = resize_to(content64, (72, 96))
    config = Config(optimizer=OptimizerSettings(iterations=5, pyramid=2, pyramid_iterations=(7,)))
    levels = []
    result = Stylizer([style64], config).stylize(content, callback=lambda s: levels.append((s.level, s.iterations)))
    assert sorted(set(levels)) == [(1, 7), (2, 5)]
    assert result.image.shape == content.shape


def test_pyramid_shapes_drop_too_small_levels():
    assert pyramid_shapes((256, 384), 3) == [(64, 96), (128, 192), (256, 384)]
    assert pyramid_shapes((40, 60), 3) == [(40, 60)]


def test_style_long_side_is_scale_times_content_long_side():
    # Ruder/Johnson: a square style beside a wide 2.35:1 frame gets the frame's long side.
    assert style_shape((300, 300), (100, 235), 1.0) == (235, 235)
    assert style_shape((100, 200), (50, 50), 2.0) == (50, 100)


def test_style_area_rule_kept_as_option():
    h, w = style_shape((100, 200), (50, 50), 2.0, "area")
    assert h * w == pytest.approx(50 * 50 * 2, rel=0.05) and w == pytest.approx(2 * h, abs=1)


def test_multiple_styles_blend(style64, content64):
    flipped = style64[::-1, ::-1].copy() * 0.5
    both = Stylizer([style64, flipped], dataclasses.replace(_config(), style=StyleSettings(style_blend=(3, 1))))
    only_first = Stylizer([style64], _config())
    only_second = Stylizer([flipped], _config())
    hw = content64.shape[:2]
    for layer, g in both.style_targets(hw).items():
        expected = 0.75 * only_first.style_targets(hw)[layer] + 0.25 * only_second.style_targets(hw)[layer]
        np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(OptionError, match="one weight per style"):
        Stylizer([style64], dataclasses.replace(_config(), style=StyleSettings(style_blend=(1, 1))))


def test_color_preservation(content64, style64):
    style = style64[: content64.shape[0], : content64.shape[1]]
    matched = match_colors(style, content64)
    np.testing.assert_allclose(matched.reshape(-1, 3).mean(0), content64.reshape(-1, 3).mean(0), atol=0.02)
    kept = transfer_luminance(style, content64)
    # Chrominance comes from the content: the output's colour differences track the content's.
    chroma_kept = (kept[..., 0] - kept[..., 2]).ravel()
    chroma_content = (content64[..., 0] - content64[..., 2]).ravel()
    assert np.corrcoef(chroma_kept, chroma_content)[0, 1] > 0.9
    config = dataclasses.replace(_config(iterations=3), style=StyleSettings(preserve_colors="both"))
    out = Stylizer([style64], config, color_reference=content64).stylize(content64).image
    assert out.shape == content64.shape


def test_inits(stylizer, content64, tmp_path):
    assert np.array_equal(stylizer.initial_image(content64, "content"), content64)
    noise = stylizer.initial_image(content64, "random")
    assert noise.shape == content64.shape and noise.std() > 0.2
    assert stylizer.initial_image(content64, "style").shape == content64.shape


def test_bad_optimizer_settings():
    with pytest.raises(OptionError, match="pyramid-iterations"):
        OptimizerSettings(pyramid=3, pyramid_iterations=(1, 2, 3))
    with pytest.raises(OptionError, match="--init"):
        OptimizerSettings(init="no/such/file.png")
    with pytest.raises(OptionError, match="iterations"):
        OptimizerSettings(iterations=0)


def test_recolor_init_is_the_content_in_the_style_colours(content64, style64):
    stylizer = Stylizer([style64], _config(init="recolor"))
    init = stylizer.initial_image(content64)
    assert init.shape == content64.shape and init.dtype == np.float32
    # Colour statistics of the style, structure of the content.
    np.testing.assert_allclose(init.reshape(-1, 3).mean(0), style64.reshape(-1, 3).mean(0), atol=0.03)
    assert np.corrcoef(init.mean(-1).ravel(), content64.mean(-1).ravel())[0, 1] > 0.9


def test_large_images_spend_most_iterations_at_a_coarse_level(style64, content64):
    assert OptimizerSettings(large_side=1024).levels_for(3840, 40) == (3, (40, 10, 10))  # 960, 1920, 3840
    assert OptimizerSettings(large_side=1024).levels_for(1024, 40) == (1, (40,))
    assert OptimizerSettings(pyramid=2, large_side=1024).levels_for(3840, 8) == (2, (8, 8))  # explicit pyramid wins
    opt = OptimizerSettings(iterations=8, large_side=64, large_fraction=0.25)
    assert opt.levels_for(128, 8) == (2, (8, 2))
    levels = []
    content = resize_to(content64, (96, 128))
    Stylizer([style64], Config(optimizer=opt)).stylize(content, callback=lambda s: levels.append(
        (s.level, s.levels)))
    assert levels[0] == (1, 2) and levels[-1] == (2, 2)
    with pytest.raises(OptionError):
        OptimizerSettings(large_fraction=0)
