"""``--preview`` of ``vidstyle video`` and ``vidstyle batch``: options and the terminal side."""

from __future__ import annotations

import click

from vidstyle.preview import DEFAULT_PREVIEW_FRAMES


def preview_options(func):
    """--preview and --preview-frames N."""
    func = click.option("--preview-frames", type=click.IntRange(1, 64), default=DEFAULT_PREVIEW_FRAMES,
                        show_default=True, help="Key frames of --preview, spread evenly over the selection.")(func)
    func = click.option("--preview", is_flag=True,
                        help="Only stylize a few key frames at a small size, each on its own, with the same look, "
                             "into OUTPUT/preview/ (contact_sheet.png); the render in OUTPUT is not touched.")(func)
    return func


def run_preview(job, config, *, frames: int, label: str = "preview") -> None:
    """Render the preview of ``job`` with a progress bar and print where its contact sheet is."""
    from tqdm import tqdm

    from vidstyle.preview import render_preview

    with tqdm(total=frames, desc=label, unit="frame", dynamic_ncols=True, leave=False) as bar:
        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = render_preview(job, config, frames=frames, progress=advance)
    w, h = result.size
    click.echo(f"{label}: wrote {result.contact_sheet} ({len(result.frames)} frames at {w}×{h}, "
               f"{result.iterations} iterations each, {result.seconds:.0f}s)")
