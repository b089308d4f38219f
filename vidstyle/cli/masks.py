"""``vidstyle masks``: write colour-coded label masks (DPST palette) to inspect or edit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from vidstyle.cli import cli
from vidstyle.cli.photoreal_options import _rect
from vidstyle.cli.video import selection_from, selection_options
from vidstyle.errors import OptionError


@cli.command("masks")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the masks (frame_00001.png …; style.png with --auto).")
@click.option("--auto", "auto_k", type=click.IntRange(2, 9), default=None,
              help="Automatic masks with K labels shared with --style.")
@click.option("--style", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Style image (needed by --auto).")
@click.option("--grabcut", "grabcut_rect", default=None, callback=_rect,
              help="GrabCut rectangle x,y,w,h (working-size pixels) around the foreground of frame 1.")
@click.option("--size", type=click.IntRange(16, 8192), default=512, show_default=True,
              help="Long side of the working size (use the one you stylize at).")
@click.option("--flow-method", type=click.Choice(["dis", "deepflow", "farneback", "tvl1"]), default="dis",
              show_default=True, help="Optical flow used to propagate labels over frames.")
@selection_options
def masks_command(source: Path, output: Path, auto_k: int | None, style: Path | None, grabcut_rect,
                  size: int, flow_method: str, start: int, end: int | None, every: int) -> None:
    """Segment SOURCE (an image, a video file or a folder of frames) into label masks.

    Frame 1 is segmented; later frames take their labels along the optical flow and are
    re-segmented only where the flow is unreliable. Feed the folder back with
    --content-masks DIR (and --style-mask OUTPUT/style.png for --auto).

    \b
    Examples:
      vidstyle masks photo.jpg -o masks/ --auto 3 --style sunset.jpg
      vidstyle masks clip.mp4 -o masks/ --grabcut 40,30,120,90
    """
    from vidstyle.frames import IMAGE_EXTENSIONS, extract_frames, load_frame_file, open_frames
    from vidstyle.images import load_image, prepare_output_dir
    from vidstyle.regions import MaskOptions, MaskTrack

    if (auto_k is None) == (grabcut_rect is None):
        raise OptionError("give either --auto K --style STYLE or --grabcut x,y,w,h")
    if auto_k is not None and style is None:
        raise OptionError("--auto needs --style STYLE: the labels are shared between content and style")
    if auto_k is not None:
        options, kind = MaskOptions(content_masks="auto", auto_k=auto_k), "labels"
    else:  # GrabCut alone: its foreground/background map (blue 0, green 1)
        options, kind = MaskOptions(grabcut=grabcut_rect, region="grabcut"), "region"
    prepare_output_dir(output)
    style_image = load_image(style, max_side=2 * size) if style is not None else None

    if source.is_file() and source.suffix.lower() in IMAGE_EXTENSIONS:
        content = load_image(source, max_side=size)
        track = MaskTrack(options, [lambda: content], style_image, folder=None)
        frames = 1
        labels = [track.labels(0, kind)]
        from segmentation import write_mask

        write_mask(output / "frame_00001.png", labels[0])
    else:
        from flow.store import FlowSettings, compute_flows
        from vidstyle.video import default_cache_dir

        frames_source = open_frames(source, selection=selection_from(source, start, end, every), long_side=size)
        with tempfile.TemporaryDirectory(prefix="vidstyle-masks-") as tmp:
            inputs = extract_frames(frames_source, Path(tmp) / "input")
            store = None
            if len(inputs) > 1:
                store = compute_flows(inputs, Path(tmp) / "flow", offsets=[1],
                                      settings=FlowSettings.create(flow_method), cache_dir=default_cache_dir())
            track = MaskTrack(options, [lambda p=p: load_frame_file(p) for p in inputs], style_image,
                              flow=(lambda i: (store.backward(i, i - 1), store.reliability(i, i - 1))),
                              folder=Path(tmp) / "masks")
            for i in range(len(inputs)):
                track.labels(i, kind)
            for path in sorted((Path(tmp) / "masks" / kind).glob("frame_*.png")):
                (output / path.name).write_bytes(path.read_bytes())
            frames = len(inputs)
    if auto_k is not None:
        from segmentation import write_mask

        write_mask(output / "style.png", track.style_labels)
    click.echo(f"wrote {frames} mask(s) to {output}" + (" and style.png" if auto_k else ""))
