"""Preview of a video job before an overnight render: a few key frames, small, same look.

:func:`render_preview` stylizes a handful of frames spread evenly over the selection
(:data:`DEFAULT_PREVIEW_FRAMES`, first and last included), each on its own the way a full
render stylizes its first frame (configured init, no flow, no temporal term), at a small
working size (:func:`preview_long_side`), and writes into ``OUTPUT/preview/``::

    contact_sheet.png        per frame: its number, the input above the stylized frame
    frame_00001.png …        the stylized frames, named like OUTPUT/frames/ (shot_a.1001.png …
                             for a numbered sequence), always 8-bit PNG
    input_00001.png …        their inputs at the preview size (input_shot_a.1001.png …)
    preview.json             frames, size, iterations and seconds of this preview

The look is the full settings' own: preset, styles, weights, init, colour preservation,
photoreal and mask options are the job's, and the style image is scaled with the frame
(style long side = ``style_scale`` × the frame's long side, :func:`vidstyle.stylize.style_shape`),
so the style's strokes cover the same fraction of the frame as in the full render. Only
the iteration budget is capped (:data:`PREVIEW_MAX_ITERATIONS` per pyramid level) so
that a preview stays short with the `quality` preset too.

Nothing outside ``OUTPUT/preview/`` is read or written: a render in the same folder
(``frames/``, ``settings.json``, …) is left alone, and a render never deletes ``preview/``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vidstyle.config import Config
from vidstyle.errors import InputError, OutputError
from vidstyle.frames import list_frame_files, open_frames
from vidstyle.images import long_side_size, prepare_output_dir, save_image, write_atomic
from vidstyle.regions import MaskOptions, MaskTrack

if TYPE_CHECKING:  # vidstyle.video imports TensorFlow; the CLI imports this module before choosing a device
    from vidstyle.video import VideoJob

PREVIEW_DIR = "preview"
CONTACT_SHEET = "contact_sheet.png"
PREVIEW_MANIFEST = "preview.json"
#: Frames previewed unless told otherwise.
DEFAULT_PREVIEW_FRAMES = 6
#: Preview working size: a quarter of the render's size, within these bounds (long side,
#: pixels) and never above the render's size. 96 px keeps 6 frames of the `fast` preset
#: under a minute on 2 CPU cores; at 192 px one frame alone takes ~25 s there.
PREVIEW_SIZE_DIVISOR = 4
PREVIEW_MIN_SIDE = 96
PREVIEW_MAX_SIDE = 192
#: Iterations per pyramid level of a preview frame at most: the `fast` preset's frame-1
#: budget (benchmarks/RESULTS.md: 1.04–1.16× the style loss of 1000 plain L-BFGS iterations).
PREVIEW_MAX_ITERATIONS = 120
#: Contact sheet: pairs per row, gap between tiles, height of the label strip (pixels),
#: and the long side small tiles are enlarged to (nearest neighbour, integer factor).
SHEET_COLUMNS = 3
SHEET_GAP = 6
SHEET_LABEL = 20
SHEET_MIN_TILE = 192


@dataclass(frozen=True)
class PreviewResult:
    """What :func:`render_preview` wrote.

    Attributes
    ----------
    folder : Path
        ``OUTPUT/preview``.
    contact_sheet : Path
        The sheet PNG.
    frames : list of int
        1-based positions in the selection of the previewed frames.
    files : list of Path
        Their stylized frames.
    size : (int, int)
        Preview frame size (width, height).
    iterations : int
        Budget of each frame at the preview size.
    seconds : float
        Wall time of the whole preview.
    """

    folder: Path
    contact_sheet: Path
    frames: list[int]
    files: list[Path]
    size: tuple[int, int]
    iterations: int
    seconds: float


def preview_long_side(size: int) -> int:
    """Long side of the preview frames for a render at long side ``size``.

    ``size / 4`` within [:data:`PREVIEW_MIN_SIDE`, :data:`PREVIEW_MAX_SIDE`], never above ``size``.
    """
    return min(size, max(PREVIEW_MIN_SIDE, min(PREVIEW_MAX_SIDE, size // PREVIEW_SIZE_DIVISOR)))


def preview_positions(count: int, frames: int = DEFAULT_PREVIEW_FRAMES) -> list[int]:
    """``frames`` 0-based positions spread evenly over ``count`` frames, first and last included."""
    if count < 1 or frames < 1:
        return []
    return sorted({round(float(x)) for x in np.linspace(0, count - 1, min(frames, count))})


def preview_config(config: Config) -> Config:
    """``config`` at the preview size with every level's budget capped at :data:`PREVIEW_MAX_ITERATIONS`."""
    opt = config.optimizer
    first = min(opt.first_iterations or opt.iterations, PREVIEW_MAX_ITERATIONS)
    levels = None if opt.pyramid_iterations is None else tuple(
        min(n, PREVIEW_MAX_ITERATIONS) for n in opt.pyramid_iterations)
    optimizer = dataclasses.replace(opt, first_iterations=first, pyramid_iterations=levels)
    return dataclasses.replace(config, size=preview_long_side(config.size), optimizer=optimizer)


def contact_sheet(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], labels: Sequence[str], *,
                  columns: int = SHEET_COLUMNS) -> np.ndarray:
    """A grid of (label, input above stylized) cells, ``columns`` cells per row.

    Parameters
    ----------
    inputs, outputs : sequences of (H, W, 3) float in [0, 1]
        Input and stylized frames, all of one size.
    labels : sequence of str
        Text above each pair (``cv2.putText``).

    Returns
    -------
    (H', W', 3) uint8 RGB
        ``W' = c·w + (c+1)·gap``, ``H' = r·(label + 2·h + gap) + (r+1)·gap`` with tiles
        ``(h, w)`` enlarged by an integer factor to a long side ≥ :data:`SHEET_MIN_TILE`,
        ``c = min(columns, n)`` and ``r = ⌈n / c⌉``.
    """
    n = len(inputs)
    if n == 0 or len(outputs) != n or len(labels) != n:
        raise ValueError("contact_sheet needs as many inputs, outputs and labels, at least one")
    h, w = inputs[0].shape[:2]
    factor = max(1, math.ceil(SHEET_MIN_TILE / max(h, w)))
    h, w = h * factor, w * factor
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    cell_h = SHEET_LABEL + 2 * h + SHEET_GAP
    sheet = np.full((rows * cell_h + (rows + 1) * SHEET_GAP, cols * w + (cols + 1) * SHEET_GAP, 3), 255, np.uint8)
    for k, (top, bottom, label) in enumerate(zip(inputs, outputs, labels, strict=True)):
        y = SHEET_GAP + (k // cols) * (cell_h + SHEET_GAP)
        x = SHEET_GAP + (k % cols) * (w + SHEET_GAP)
        cv2.putText(sheet, label, (x + 2, y + SHEET_LABEL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
        for row, image in ((y + SHEET_LABEL, top), (y + SHEET_LABEL + h + SHEET_GAP, bottom)):
            pixels = np.clip(np.asarray(image, np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            tile = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
            sheet[row:row + h, x:x + w] = tile
    return sheet


class _PreviewMasks(MaskTrack):
    """Masks of the preview frames, which have no optical flow between them.

    A folder of per-frame masks is read at the previewed positions; masks made for frame 1
    (one mask file, GrabCut, a region file, automatic masks) are carried to the other
    preview frames unmoved (zero flow, fully reliable), where a render would carry them
    along the flow.
    """

    def __init__(self, options: MaskOptions, frames: Sequence[np.ndarray], style: np.ndarray | None, *,
                 positions: Sequence[int], count: int, seed: int):
        self._positions, self._count = list(positions), count
        shape = frames[0].shape[:2]
        still = (np.zeros((*shape, 2), np.float32), np.ones(shape, np.float32))
        super().__init__(options, [lambda f=f: f for f in frames], style, flow=lambda i: still, seed=seed)

    def _mask_files(self) -> list[Path] | None:
        content = self.options.content_masks
        if content in (None, "auto") or not Path(content).is_dir():
            return None
        if self._files is None:
            files = list_frame_files(Path(content))
            if len(files) != self._count:
                raise InputError(f"{content} holds {len(files)} masks for {self._count} frames: give one "
                                 "mask per selected frame (natural order), or a single mask for frame 1")
            self._files = [files[p] for p in self._positions]
        return self._files


def _scaled_masks(masks: MaskOptions | None, factor: float) -> MaskOptions | None:
    """Mask options at the preview size (a GrabCut rectangle is given in working-size pixels)."""
    if masks is None or masks.grabcut is None:
        return masks
    x, y, w, h = (max(1, round(v * factor)) if k >= 2 else round(v * factor) for k, v in enumerate(masks.grabcut))
    return dataclasses.replace(masks, grabcut=(x, y, w, h))


def _check_inputs(job: VideoJob, config: Config, folder: Path) -> None:
    """No input may lie in the preview folder (its frames are replaced)."""
    from vidstyle.video import job_inputs

    root = folder.resolve()
    for option, path in job_inputs(job, config).items():
        if path is not None and (Path(path).resolve() == root or root in Path(path).resolve().parents):
            raise OutputError(f"{option} {path} lies in {PREVIEW_DIR}/ of the output folder, which the preview "
                              f"rewrites: move it out of {job.output}, or choose another -o")
    missing = [p for p in job.styles if not Path(p).is_file()]
    if missing:
        raise InputError(f"style image '{missing[0]}' not found: check the STYLE argument")


def _clear(folder: Path) -> None:
    """Remove the frames of an earlier preview (only the names this module writes)."""
    for pattern in ("frame_*.png", "input_*.png"):
        for path in folder.glob(pattern):
            path.unlink()
    try:  # plate-named frames are listed in the manifest
        listed = json.loads((folder / PREVIEW_MANIFEST).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        listed = []
    for name in listed if isinstance(listed, list) else []:
        if isinstance(name, str) and Path(name).name == name and name.endswith(".png"):
            (folder / name).unlink(missing_ok=True)
            (folder / f"input_{name}").unlink(missing_ok=True)


def render_preview(job: VideoJob, config: Config, *, frames: int = DEFAULT_PREVIEW_FRAMES,
                   progress: Callable[[int, int], None] | None = None) -> PreviewResult:
    """Stylize ``frames`` key frames of ``job`` at a small size into ``job.output/preview/``.

    Parameters
    ----------
    job : VideoJob
        The render to preview (source, selection, styles, masks, output folder); flow and
        encoding fields are not used.
    config : Config
        The render's settings; see :func:`preview_config` for what changes.
    frames : int
        Key frames, spread evenly over the selection (fewer if the selection is shorter).
    progress : callable, optional
        ``progress(done, total)`` after each frame.

    Returns
    -------
    PreviewResult

    Raises
    ------
    InputError, OptionError, OutputError
        Bad input or masks, impossible options, an unwritable folder or an input inside it.
    """
    from vidstyle.photoreal import PhotorealStylizer, make_stylizer, wants_photoreal
    from vidstyle.stylize import load_style_images

    start = time.perf_counter()
    if frames < 1:
        raise ValueError("frames must be ≥ 1")
    folder = job.output / PREVIEW_DIR
    _check_inputs(job, config, folder)
    small = preview_config(config)
    source = open_frames(job.source, selection=job.selection, long_side=small.size, fps=job.fps, plate=job.plate)
    positions = preview_positions(len(source), frames)
    if not positions:
        raise InputError(f"{job.source}: the selection holds no frames; check --start/--end/--every")
    w, h = source.info.size
    full_hw = long_side_size((h, w), config.size) if max(w, h) > config.size else (h, w)
    contents = dict(source.frames_at(positions))
    positions = [p for p in positions if p in contents]  # a video that ends early
    images = [contents[p] for p in positions]
    styles = load_style_images(job.styles, images[0].shape[:2])
    track = None
    if job.masks is not None and wants_photoreal(small, job.masks):
        masks = _scaled_masks(job.masks, images[0].shape[0] / full_hw[0])
        track = _PreviewMasks(masks, images, styles[0] if styles else None, positions=positions,
                              count=len(source), seed=small.optimizer.seed)
    stylizer = make_stylizer(styles, small, track=track, color_reference=images[0])

    prepare_output_dir(folder)
    _clear(folder)
    stems = source.stems  # a numbered sequence's file names, else frame_00001 …
    outputs, files = [], []
    for k, (position, content) in enumerate(zip(positions, images, strict=True)):
        if track is not None and isinstance(stylizer, PhotorealStylizer):
            stylizer.set_frame(track.frame_masks(k, feather=small.photoreal.region_feather))
        image = stylizer.stylize(content, iterations=small.optimizer.first_iterations).image
        outputs.append(image)
        name = f"{stems[position]}.png" if stems else f"frame_{position + 1:05d}.png"
        files.append(folder / name)
        save_image(files[-1], image)
        save_image(folder / (f"input_{name}" if stems else f"input_{position + 1:05d}.png"), content)
        if progress is not None:
            progress(k + 1, len(positions))

    numbers = [p + 1 for p in positions]
    sources = [source.numbers[p] for p in positions]  # file numbers of a numbered sequence
    labels = [f"frame {s}" if source.numbered else f"frame {n}" if n == s else f"frame {n} (source {s})"
              for n, s in zip(numbers, sources, strict=True)]
    sheet = contact_sheet(images, outputs, labels)
    sheet_path = folder / CONTACT_SHEET
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise OutputError(f"could not encode {sheet_path}")
    write_atomic(sheet_path, encoded.tobytes())
    seconds = time.perf_counter() - start
    manifest = {"frames": numbers, "source_frames": sources, "of": len(source),
                "size": list(source.frame_size), "render_size": [full_hw[1], full_hw[0]],
                "iterations": small.optimizer.first_iterations, "seconds": round(seconds, 2),
                "styles": [str(p) for p in job.styles], "config": small.to_dict(),
                "files": [p.name for p in files]}
    write_atomic(folder / PREVIEW_MANIFEST, (json.dumps(manifest, indent=1, default=str) + "\n").encode())
    return PreviewResult(folder, sheet_path, numbers, files, source.frame_size, small.optimizer.first_iterations,
                         seconds)


__all__ = ["CONTACT_SHEET", "DEFAULT_PREVIEW_FRAMES", "PREVIEW_DIR", "PreviewResult", "contact_sheet",
           "preview_config", "preview_long_side", "preview_positions", "render_preview"]
