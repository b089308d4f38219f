"""Shared click options: parsing helpers and the flags that become a Config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def _split(value: str | None, cast: Callable[[str], Any], what: str):
    if value is None:
        return None
    try:
        items = tuple(cast(v.strip()) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated {what}, e.g. 1,2,4") from None
    if not items:
        raise click.BadParameter(f"expected at least one {what}")
    return items


def int_list(ctx, param, value):
    return _split(value, int, "integers")


def float_list(ctx, param, value):
    return _split(value, float, "numbers")


def str_list(ctx, param, value):
    return _split(value, str, "names")


# (flag, config section, key, click kwargs). Defaults are None so that only flags the
# user gave override the preset.
STYLE_FLAGS: list[tuple[str, str | None, str, dict]] = [
    ("--size", None, "size", dict(type=click.IntRange(16, 8192), help="Long side of the working size in pixels.")),
    ("--iterations", "optimizer", "iterations", dict(type=click.IntRange(1), help="Optimizer iterations (per frame).")),
    ("--seed", "optimizer", "seed", dict(type=int, help="Seed of the random init (same seed → same output).")),
    ("--init", "optimizer", "init",
     dict(help="content, recolor (content in the style's colours), random, style, or an image path.")),
    ("--optimizer", "optimizer", "optimizer",
     dict(type=click.Choice(["lbfgs", "scipy-lbfgs", "adam"]),
          help="In-graph L-BFGS (default), scipy's L-BFGS-B, or Adam.")),
    ("--learning-rate", "optimizer", "learning_rate", dict(type=float, help="Adam step size (pixels in [0,1]).")),
    ("--stop-tolerance", "optimizer", "tolerance",
     dict(type=float, help="Early stop: relative loss change (0 disables).")),
    ("--stop-window", "optimizer", "window",
     dict(type=click.IntRange(1), help="Early stop: over this many iterations.")),
    ("--pyramid", "optimizer", "pyramid",
     dict(type=click.IntRange(1, 6), help="Coarse-to-fine levels (3: 1/4, 1/2, full) of an image, or of a "
                                          "video's first frame and new shots (later frames: --frame-pyramid).")),
    ("--pyramid-iterations", "optimizer", "pyramid_iterations",
     dict(callback=int_list, help="Iterations of the coarser levels, coarse to fine (200,100 for --pyramid 3).")),
    ("--tile", "optimizer", "tile",
     dict(type=click.IntRange(256), help="Evaluate each step in tiles of this long side (px) to bound memory "
                                         "(default: from the memory available; no tiling when it fits).")),
    ("--large-side", "optimizer", "large_side",
     dict(type=click.IntRange(64), help="Images/first frames larger than this start at a coarse level with "
                                        "most of the budget (default 1024; with --pyramid 1).")),
    ("--content-weight", "loss", "content_weight", dict(type=float, help="Weight of the content loss.")),
    ("--style-weight", "loss", "style_weight", dict(type=float, help="Weight of the style loss.")),
    ("--tv-weight", "loss", "tv_weight", dict(type=float, help="Weight of the total-variation loss.")),
    ("--content-layer", "loss", "content_layer", dict(help="Content layer (default relu4_2).")),
    ("--style-layers", "loss", "style_layers", dict(callback=str_list, help="Comma-separated style layers.")),
    ("--style-layer-weights", "loss", "style_layer_weights",
     dict(callback=float_list, help="One weight per style layer (default equal).")),
    ("--style-scale", "style", "style_scale",
     dict(type=float, help="Style long side = content long side × this (or area, see --style-scale-rule).")),
    ("--style-scale-rule", "style", "style_scale_rule",
     dict(type=click.Choice(["long-side", "area"]), help="How --style-scale sizes the style (default long-side).")),
    ("--style-blend", "style", "style_blend", dict(callback=float_list, help="Blend weights of several style images.")),
    ("--preserve-colors", "style", "preserve_colors",
     dict(type=click.Choice(["none", "before", "after", "both"]), help="Keep the content's colours.")),
    ("--net", "net", "net",
     dict(type=click.Choice(["vgg16", "vgg19"]), help="Feature network (vgg19 needs Keras weights).")),
    ("--weights", "net", "weights", dict(type=click.Path(dir_okay=False), help="Weights file for --net.")),
    ("--temporal-weight", "loss", "temporal_weight",
     dict(type=float, help="Weight of the temporal loss (video; 0 = warped init only).")),
    ("--pooling", "net", "pooling", dict(type=click.Choice(["max", "avg"]), help="Pooling in the net.")),
    ("--precision", "net", "precision",
     dict(type=click.Choice(["auto", "float32", "bfloat16"]),
          help="Arithmetic of the convolutions (default auto: bfloat16 where the CPU has AMX/AVX512-BF16 or "
               "the GPU has bfloat16 tensor cores, else float32).")),
]


def style_options(func):
    """Add every STYLE_FLAGS option and --preset/--device to a command."""
    for flag, _, key, kwargs in reversed(STYLE_FLAGS):
        func = click.option(flag, key, default=None, **kwargs)(func)
    func = click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True,
                        help="Where TensorFlow runs (gpu untested by the authors).")(func)
    func = click.option("--preset", default=None,
                        help="Built-in preset (artistic, fast, quality) or a .toml file.")(func)
    return func


def overrides_from(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop STYLE_FLAGS values out of a command's kwargs into a nested override dict."""
    out: dict[str, Any] = {}
    for _, section, key, _ in STYLE_FLAGS:
        value = kwargs.pop(key, None)
        if section is None:
            out[key] = value
        else:
            out.setdefault(section, {})[key] = value
    return out
