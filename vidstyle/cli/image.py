"""``vidstyle image``: stylize one image."""

from __future__ import annotations

from pathlib import Path

import click

from vidstyle.cli import cli, start_tensorflow
from vidstyle.cli.options import style_options
from vidstyle.cli.photoreal_options import photoreal_from_flags, photoreal_options
from vidstyle.cli.progress import StepBar
from vidstyle.cli.setup import config_from_flags
from vidstyle.errors import OptionError, OutputError
from vidstyle.images import load_image, prepare_output_dir, save_image
from vidstyle.optimize import ITERATIONS_PER_CALL, Step

MAX_ITERATIONS_PER_CALL = 25

DEFAULT_IMAGE_PRESET = "artistic"


def report_interval(save_every: int | None) -> int:
    """Iterations per compiled optimizer call: a divisor of --save-every, so that every
    save point ends a call (only then is the image copied to the host)."""
    if not save_every:
        return ITERATIONS_PER_CALL
    return max(d for d in range(1, min(save_every, MAX_ITERATIONS_PER_CALL) + 1) if save_every % d == 0)


def intermediate_path(out: Path, level: int, iteration: int) -> Path:
    return out.with_name(f"{out.stem}.level{level}.iter{iteration:05d}{out.suffix}")


def _refuse_output_over_input(output: Path, content: Path, styles, flags: dict, masks) -> None:
    """-o must never name a file the user gave as input (it would be overwritten)."""
    given = {"CONTENT": content, **{f"STYLE {k + 1}": s for k, s in enumerate(styles)}}
    for key, option in (("init", "--init"), ("weights", "--weights")):
        if flags.get(key):
            given[option] = Path(flags[key])
    if masks is not None:
        for option, value in (("--content-masks", masks.content_masks), ("--style-mask", masks.style_mask),
                              ("--region", masks.region)):
            if value and value not in ("auto", "grabcut"):
                given[option] = Path(value)
    target = output.resolve()
    for option, path in given.items():
        if Path(path).resolve() == target:
            raise OutputError(f"-o {output} is the {option} file and would be overwritten: choose another -o")


@cli.command("image")
@click.argument("content", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("styles", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output image (.png recommended).")
@click.option("--save-every", type=click.IntRange(1), default=None,
              help="Also save the current image every N iterations next to OUTPUT.")
@style_options
@photoreal_options
def image_command(content: Path, styles: tuple[Path, ...], output: Path, save_every: int | None,
                  device: str, **flags) -> None:
    """Stylize CONTENT with one or more STYLE images.

    \b
    Example:
      vidstyle image photo.jpg starry.jpg -o out.png --size 512 --preset artistic
      vidstyle image photo.jpg a.jpg b.jpg --style-blend 0.7,0.3 -o out.png
      vidstyle image in.png sunset.png -o out.png --photoreal --content-masks in_mask.png --style-mask sunset_mask.png
    """
    if flags.get("temporal_weight") is not None:
        raise OptionError("--temporal-weight applies to videos (vidstyle video): drop it for a single image")
    photoreal, masks = photoreal_from_flags(flags)
    _refuse_output_over_input(output, content, styles, flags, masks)
    # An image is stylized from scratch like a video's first frame: --iterations sets that budget.
    config = config_from_flags(flags, default_preset=DEFAULT_IMAGE_PRESET,
                               extra={"photoreal": photoreal,
                                      "optimizer": {"first_iterations": flags.get("iterations")}})
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"):
        raise OutputError(f"-o {output}: use an image extension such as .png")
    prepare_output_dir(output.parent)
    # --size caps the long side (never enlarges), exactly as for video frames.
    content_image = load_image(content, max_side=config.size)
    start_tensorflow(device)  # lazily, so --help and bad-input errors stay instant
    config, precision_reason = config.with_precision()
    from vidstyle.stylize import Stylizer, load_style_images

    style_images = load_style_images(styles, content_image.shape[:2])

    from vidstyle.photoreal import stylize_photoreal_image, wants_photoreal

    every = report_interval(save_every)
    stylizer = None if wants_photoreal(config, masks) else Stylizer(style_images, config,
                                                                     color_reference=content_image,
                                                                     report_every=every)
    bar = StepBar("stylizing")

    def on_step(step: Step) -> None:
        bar(step)
        if save_every and step.iteration % save_every == 0 and step.image is not None:
            save_image(intermediate_path(output, step.level, step.iteration), step.image)

    try:
        if wants_photoreal(config, masks):
            result = stylize_photoreal_image(content_image, style_images, config, masks, callback=on_step,
                                             report_every=every)
        else:
            result = stylizer.stylize(content_image, callback=on_step)
    finally:
        bar.close()
    save_image(output, result.image)
    click.echo(f"wrote {output} ({result.image.shape[1]}×{result.image.shape[0]}, "
               f"{result.iterations} iterations, loss {result.loss:.4g}, {result.seconds:.1f}s, "
               f"{config.net.precision}: {precision_reason})")

