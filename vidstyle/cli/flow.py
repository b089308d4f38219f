"""``vidstyle flow``: compute (and optionally visualize) the optical flow of a clip."""

from __future__ import annotations

from pathlib import Path

import click

from vidstyle.cli import cli
from vidstyle.cli.cache import cache_max_gb_option, no_cache_option
from vidstyle.cli.options import int_list
from vidstyle.cli.video import selection_from, selection_options


@cli.command("flow")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Flow folder (artistic-videos names: forward_i_j.flo, backward_j_i.flo, reliable_j_i.pgm).")
@click.option("--method", type=click.Choice(["dis", "deepflow", "farneback", "tvl1"]), default="dis",
              show_default=True, help="Optical flow backend.")
@click.option("--offsets", callback=int_list, default="1", show_default=True,
              help="Frame offsets, e.g. 1,2,4 for long-term consistency.")
@click.option("--size", type=click.IntRange(16, 8192), default=None,
              help="Long side of the frames in pixels (use the same --size as `vidstyle video`).")
@click.option("--jobs", type=click.IntRange(1), default=None, help="Processes (default: CPU count).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Flow cache shared between runs (default ~/.cache/vidstyle/flow).")
@cache_max_gb_option
@no_cache_option
@click.option("--visualize", is_flag=True, help="Also write colour-coded PNGs of the forward flows.")
@selection_options
def flow_command(source: Path, output: Path, method: str, offsets: tuple[int, ...], size: int | None,
                 jobs: int | None, cache_dir: Path | None, cache_max_gb: float | None, no_cache: bool,
                 visualize: bool, start: int, end: int | None, every: int) -> None:
    """Compute forward and backward flow plus reliability maps for SOURCE (video or frame folder).

    OUTPUT must be new, empty, or made by `vidstyle flow`: vidstyle never writes into a
    folder of flows made by another tool (give those to `vidstyle video --flow-dir`).

    \b
    Example:
      vidstyle flow clip.mp4 -o flows/ --offsets 1,2,4 --size 512 --visualize
      vidstyle video clip.mp4 starry.jpg -o out/ --size 512 --flow-dir flows/
    """
    from tqdm import tqdm

    from flow.errors import FlowError
    from flow.io import forward_name
    from flow.store import FlowSettings, claim_flow_dir, compute_flows
    from flow.visualize import flow_to_color
    from vidstyle.frames import extract_frames, open_frames
    from vidstyle.images import prepare_output_dir, save_image
    from vidstyle.workspace import default_cache_dir

    frames = open_frames(source, selection=selection_from(source, start, end, every), long_side=size)
    if not claim_flow_dir(output):
        raise FlowError(f"{output} holds files vidstyle did not make, and vidstyle never writes into such a folder: "
                        "choose a new or empty folder for -o (flows made by another tool go to "
                        "`vidstyle video --flow-dir`)")
    prepare_output_dir(output)
    inputs = extract_frames(frames, output / "input")
    pairs = sum(max(len(inputs) - o, 0) for o in offsets)
    with tqdm(total=pairs, desc="flow", unit="pair", dynamic_ncols=True) as bar:
        store = compute_flows(inputs, output, offsets=offsets, settings=FlowSettings.create(method),
                              cache_dir=None if no_cache else cache_dir or default_cache_dir(),
                              cache_max_gb=cache_max_gb, jobs=jobs,
                              progress=lambda done, total: bar.update(done - bar.n))
    if visualize:
        for o in offsets:
            for i in range(len(inputs) - o):
                name = Path(forward_name(i + 1, i + 1 + o)).with_suffix(".png").name
                save_image(output / "visualize" / name, flow_to_color(store.forward(i, i + o)) / 255.0)
    stats = store.stats
    click.echo(f"wrote {stats.total} pairs to {output} ({stats.computed} computed, {stats.cached} from cache, "
               f"{stats.reused} reused)")
