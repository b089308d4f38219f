"""``vidstyle video``: stylize a video file or a folder of frames."""

from __future__ import annotations

from pathlib import Path

import click

from vidstyle.cli import cli, start_tensorflow
from vidstyle.cli.cache import cache_max_gb_option, no_cache_option
from vidstyle.cli.options import int_list, style_options
from vidstyle.cli.photoreal_options import photoreal_from_flags, photoreal_options
from vidstyle.cli.preview import preview_options, run_preview
from vidstyle.cli.setup import config_from_flags
from vidstyle.codecs import CODEC_CHOICES, CODECS, DEFAULT_CODEC, NO_VIDEO
from vidstyle.errors import OptionError
from vidstyle.frames import FrameSelection, frame_selection
from vidstyle.plates import ALPHA_MODES, OUTPUT_FORMATS, OUTPUT_SIZES, TRANSFERS

DEFAULT_VIDEO_PRESET = "fast"


def selection_options(func):
    """--start/--end/--every (shared by video and flow)."""
    func = click.option("--every", type=click.IntRange(1), default=1, show_default=True,
                        help="Use every N-th frame.")(func)
    func = click.option("--end", type=click.IntRange(0), default=None,
                        help="Last frame to use, inclusive (a number like --start).")(func)
    func = click.option("--start", type=click.IntRange(0), default=None,
                        help="First frame to use: the file's frame number for a numbered sequence "
                             "(shot_a.1001.exr → 1001), else 1-based (default: the first).")(func)
    return func


def selection_from(source: Path, start: int | None, end: int | None, every: int) -> FrameSelection:
    """The frames --start/--end/--every select in SOURCE (frame numbers of a numbered sequence)."""
    return frame_selection(source, start, end, every)


def plate_options(func):
    """--output-format/--output-size/--input-transfer/--alpha/--alpha-mask (video)."""
    func = click.option("--alpha-mask/--no-alpha-mask", "alpha_mask", default=None,
                        help="Leave fully transparent pixels of RGBA plates out of the style statistics "
                             "(default on).")(func)
    func = click.option("--alpha", "alpha", type=click.Choice(ALPHA_MODES), default=None,
                        help="RGB of RGBA plates is straight or premultiplied (default auto: premultiplied "
                             "for EXR, straight otherwise); the network sees straight RGB and the frames "
                             "are written as the plate was.")(func)
    func = click.option("--input-transfer", type=click.Choice(TRANSFERS), default=None,
                        help="Plate values are scene-linear (sRGB-encoded for the network, decoded again "
                             "on write) or display-referred sRGB (default auto: linear for EXR).")(func)
    func = click.option("--output-size", type=click.Choice(OUTPUT_SIZES), default=None,
                        help="Frames at the working --size (default) or at the plate's own size "
                             "(upsampled guided by the plate, edges kept).")(func)
    func = click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default=None,
                        help="Frames as 8-bit PNG, 16-bit PNG, 16-bit TIFF or half-float EXR (default auto: "
                             "like the plate: png for 8-bit and video, png16 for 16-bit, exr for EXR).")(func)
    return func


def plate_from(output_format, output_size, input_transfer, alpha, alpha_mask):
    """PlateOptions of the plate flags (defaults for those not given)."""
    from vidstyle.plates import PlateOptions

    given = {"output_format": output_format, "output_size": output_size, "input_transfer": input_transfer,
             "alpha": alpha, "alpha_mask": alpha_mask}
    return PlateOptions(**{k: v for k, v in given.items() if v is not None})


def video_codec(codec: str | None, *, no_video: bool, crf: int | None) -> str:
    """The ``--codec`` a command line asks for (``--no-video`` is ``--codec none``).

    Raises
    ------
    OptionError
        ``--no-video`` with a codec, or ``--crf`` with a codec other than h264.
    """
    if no_video:
        if codec not in (None, NO_VIDEO):
            raise OptionError(f"--no-video writes no video, --codec {codec} asks for one: drop one of them")
        return NO_VIDEO
    codec = codec or DEFAULT_CODEC
    if crf is not None and codec != DEFAULT_CODEC:
        what = f"{CODECS[codec].label} has a fixed quality" if codec in CODECS else "no video is written"
        raise OptionError(f"--crf sets the H.264 quality, but with --codec {codec} {what}: drop --crf")
    return codec


@cli.command("video")
@click.argument("source", type=click.Path(path_type=Path), metavar="SOURCE")
@click.argument("styles", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (frames, flow, log and the encoded video).")
@selection_options
@click.option("--first-iterations", type=click.IntRange(1), default=None,
              help="Iterations of frame 1 (default: the preset's, or --iterations when given).")
@click.option("--frame-stop-tolerance", type=click.FloatRange(0), default=None,
              help="Frames after the first stop when the loss changed by less than this (relative) over "
                   "--frame-stop-window iterations (0: run the whole --iterations budget).")
@click.option("--frame-stop-window", type=click.IntRange(1), default=None,
              help="Window of that early stop, in iterations.")
@click.option("--frame-pyramid", type=click.IntRange(1, 6), default=None,
              help="Coarse-to-fine levels of frames after the first (corrections keep the warped detail).")
@click.option("--frame-pyramid-iterations", callback=int_list, default=None,
              help="Iterations of those coarser levels, coarse to fine.")
@click.option("--passes", type=click.IntRange(1, 100), default=None, help="Multi-pass: number of passes (ref. 15).")
@click.option("--multipass-temporal-from", type=click.IntRange(2), default=None,
              help="First pass with a temporal loss toward the pass-direction neighbour (ref. 8).")
@click.option("--long-term", callback=int_list, default=None,
              help="Temporal offsets, e.g. 1,2,4 for long-term consistency (default 1).")
@click.option("--flow-method", type=click.Choice(["dis", "deepflow", "farneback", "tvl1"]), default=None,
              help="Optical flow backend (default dis).")
@click.option("--flow-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Reuse/keep flows here (artistic-videos names) instead of OUTPUT/flow.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Flow cache shared between runs (default ~/.cache/vidstyle/flow).")
@cache_max_gb_option
@no_cache_option
@click.option("--jobs", type=click.IntRange(1), default=None, help="Processes for flow (default: CPU count).")
@click.option("--codec", type=click.Choice(CODEC_CHOICES), default=None,
              help="Video written after the frames, at the source's frame rate with its audio: h264 "
                   "(NAME_stylized.mp4, default), prores (ProRes 422 HQ) or dnxhr (DNxHR HQX, at least "
                   "256x120 px), both 10-bit 4:2:2 .mov with PCM audio for editing; none: frames only.")
@click.option("--crf", type=click.IntRange(0, 51), default=None, help="H.264 quality (default 18).")
@click.option("--fps", type=float, default=None, help="Frame rate of a frame folder (default 25).")
@click.option("--no-video", is_flag=True, help="Write frames only, no encoded video (same as --codec none).")
@click.option("--overwrite", is_flag=True, help="Discard results of other settings in OUTPUT.")
@plate_options
@preview_options
@style_options
@photoreal_options
def video_command(source: Path, styles: tuple[Path, ...], output: Path, start: int, end: int | None, every: int,
                  first_iterations, frame_stop_tolerance, frame_stop_window, frame_pyramid, frame_pyramid_iterations,
                  passes, multipass_temporal_from, long_term, flow_method, flow_dir, cache_dir,
                  cache_max_gb, no_cache, jobs, codec, crf, fps, no_video, overwrite, output_format, output_size,
                  input_transfer, alpha, alpha_mask, preview, preview_frames, device, **flags) -> None:
    """Stylize SOURCE (a video file, a folder of frames, or a sequence pattern such as
    plates/shot_a.####.exr) with STYLE image(s).

    Rerun the same command to resume after an interruption.

    \b
    Examples:
      vidstyle video clip.mp4 starry.jpg -o out/
      vidstyle video frames/ starry.jpg -o out/ --preset artistic --long-term 1,2,4
      vidstyle video clip.mp4 starry.jpg -o out/ --passes 15 --iterations 100
      vidstyle video plates/shot_a.####.exr starry.jpg -o out/ --start 1001 --output-size source
    """
    optimizer_flags = {"first_iterations": first_iterations, "frame_tolerance": frame_stop_tolerance,
                       "frame_window": frame_stop_window, "frame_pyramid": frame_pyramid,
                       "frame_pyramid_iterations": frame_pyramid_iterations}
    if flags.get("iterations") is not None and first_iterations is None:
        optimizer_flags["first_iterations"] = flags["iterations"]  # --iterations sets every frame's budget
    extra = {"optimizer": optimizer_flags,
             "video": {"passes": passes, "multipass_temporal_from": multipass_temporal_from,
                       "long_term": long_term, "flow_method": flow_method, "crf": crf}}
    extra["photoreal"], masks = photoreal_from_flags(flags)
    config = config_from_flags(flags, default_preset=DEFAULT_VIDEO_PRESET, extra=extra)
    if config.video.passes > 1:
        single_pass = (("--first-iterations", first_iterations), ("--frame-stop-tolerance", frame_stop_tolerance),
                       ("--frame-stop-window", frame_stop_window), ("--frame-pyramid", frame_pyramid),
                       ("--frame-pyramid-iterations", frame_pyramid_iterations))
        ignored = [flag for flag, value in single_pass if value is not None]
        if ignored:
            raise OptionError(f"{ignored[0]} applies to single-pass rendering (every multi-pass frame gets "
                              "--iterations): drop it, or use --passes 1")
    codec = video_codec(codec, no_video=no_video, crf=crf)
    selection = selection_from(source, start, end, every)
    plate = plate_from(output_format, output_size, input_transfer, alpha, alpha_mask)
    start_tensorflow(device)
    from vidstyle.cli.video_progress import TqdmVideoProgress
    from vidstyle.video import VideoJob, render_video

    job = VideoJob(source=source, styles=styles, output=output, selection=selection, flow_dir=flow_dir,
                   cache_dir=cache_dir, cache_max_gb=cache_max_gb, no_cache=no_cache, jobs=jobs,
                   encode=codec != NO_VIDEO, codec=DEFAULT_CODEC if codec == NO_VIDEO else codec, fps=fps,
                   masks=masks, plate=plate)
    if preview:  # key frames at a small size into OUTPUT/preview/; the render there is not touched
        return run_preview(job, config, frames=preview_frames)
    progress = TqdmVideoProgress()
    try:
        result = render_video(job, config, progress=progress, overwrite=overwrite)
    finally:
        progress.close()
    where = result.video or result.output_dir / "frames"
    click.echo(f"wrote {where} ({len(result.frames)} frames, {result.resumed_frames} resumed, "
               f"{result.seconds:.0f}s, {result.precision})")
