"""Click options of photorealistic transfer, segmentation masks and region-only mode.

Shared by ``vidstyle image`` and ``vidstyle video``; :func:`photoreal_from_flags` pops
them from a command's kwargs into a ``[photoreal]`` override dict and a
:class:`vidstyle.regions.MaskOptions`.
"""

from __future__ import annotations

from typing import Any

import click

from vidstyle.regions import MaskOptions, parse_rect

# (flag, key of [photoreal], click kwargs); None defaults so only given flags override a preset.
PHOTOREAL_FLAGS: list[tuple[str, str, dict]] = [
    ("--photoreal/--no-photoreal", "enabled",
     dict(help="Photorealistic transfer (Luan et al. 2017): segmented style, then the matting term.")),
    ("--matting-weight", "matting_weight",
     dict(type=float, help="λ of the matting (photorealism) term (default 1e2).")),
    ("--matting-epsilon", "epsilon", dict(type=float, help="ε of the Matting Laplacian (default 1e-7).")),
    ("--stage1-fraction", "stage1_fraction",
     dict(type=float, help="Share of iterations in stage 1, without the matting term (default 0.5).")),
    ("--smooth/--no-smooth", "smooth", dict(help="Edge-aware closed-form post-smoothing (Li et al. 2018).")),
    ("--smooth-lambda", "smooth_lambda",
     dict(type=float, help="Fidelity λ of --smooth (default 1e-4; lower smooths more).")),
    ("--photoreal-style-scale", "style_weight_scale",
     dict(type=float, help="Multiplier of the style weight under --photoreal (default 10).")),
    ("--recolor-init/--no-recolor-init", "recolor_init",
     dict(help="Start from the content recoloured per label to the style's colours (default on).")),
    ("--recolor-shared", "recolor_shared",
     dict(type=float, help="Weight of the whole-image colour map in that recolouring, 0–1 (default 0.5).")),
    ("--recolor-blur", "recolor_blur",
     dict(type=float, help="Soft edge between labels of the recolouring, fraction of the long side "
                           "(default 0.01).")),
    ("--region-feather", "region_feather",
     dict(type=float, help="Soft edge of --region as a fraction of the long side (default 0.02).")),
]


def _rect(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_rect(value)
    except Exception as exc:  # OptionError → click's one-line usage error
        raise click.BadParameter(str(exc)) from None


def photoreal_options(func):
    """Add the photoreal and mask flags to a command."""
    func = click.option("--region", default=None,
                        help="Stylize only a region: a mask file (white = region), 'grabcut' "
                             "(with --grabcut), or auto:LABEL (label index/colour of --auto-masks).")(func)
    func = click.option("--grabcut", "grabcut_rect", default=None, callback=_rect,
                        help="GrabCut rectangle x,y,w,h (working-size pixels) around the foreground of frame 1.")(func)
    func = click.option("--auto-masks", "auto_k", type=click.IntRange(2, 9), default=None,
                        help="Automatic masks with K labels shared by content and style.")(func)
    func = click.option("--style-mask", default=None, type=click.Path(dir_okay=False),
                        help="Style image's mask in the DPST colours.")(func)
    func = click.option("--content-masks", default=None,
                        help="DIR of per-frame masks (natural order), one mask FILE, or 'auto'.")(func)
    for flag, key, kwargs in reversed(PHOTOREAL_FLAGS):
        func = click.option(flag, f"photoreal_{key}", default=None, **kwargs)(func)
    return func


def photoreal_from_flags(kwargs: dict[str, Any]) -> tuple[dict[str, Any], MaskOptions | None]:
    """Pop the photoreal/mask flags: (``[photoreal]`` overrides, MaskOptions or None)."""
    overrides = {key: kwargs.pop(f"photoreal_{key}", None) for _, key, _ in PHOTOREAL_FLAGS}
    masks = MaskOptions(content_masks=kwargs.pop("content_masks", None), style_mask=kwargs.pop("style_mask", None),
                        auto_k=kwargs.pop("auto_k", None), grabcut=kwargs.pop("grabcut_rect", None),
                        region=kwargs.pop("region", None))
    if masks == MaskOptions():
        masks = None
    return overrides, masks
