"""What the user receives in ``OUTDIR/frames/``: the plates' names, size, bit depth and alpha.

A job whose frames are plain 8-bit RGB PNGs at the working size renders straight into
``frames/`` (no delivery step). Any other output — ``--output-size source`` on a larger
plate, ``--output-format png16|tiff16|exr``, a plate with alpha — is *staged*: the renderer
writes its working-size results into ``stylized/`` (16-bit PNG, the bytes the next frame
and a resumed run read back), and :func:`deliver_frames` makes each file of ``frames/``
from its result and its plate:

1. upsampled to the plate's size, guided by the plate (:func:`vidstyle.upsample.guided_upsample`),
   when ``output_size="source"``;
2. converted and quantized once (:func:`vidstyle.plates.output_pixels`: transfer,
   highlights, premultiplication, the plate's alpha appended untouched);
3. written atomically under the plate's name.

A frame of ``frames/`` is (re)made when it is missing or older than its result, so a
resumed or partly deleted job completes ``frames/`` without optimizing anything again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidstyle.frames import FrameSource, load_frame_file
from vidstyle.images import resize_to
from vidstyle.plates import (
    PlateInfo,
    PlateOptions,
    output_extension,
    output_pixels,
    output_premultiplied,
    plate_rgb,
    read_plate,
    write_plate,
)
from vidstyle.upsample import guided_upsample
from vidstyle.workspace import FRAME_PATTERN, OUTPUT_KEY, Workspace

__all__ = ["Delivery", "deliver_frames", "display_reader", "plan_delivery"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """How a job's frames are written.

    Attributes
    ----------
    options : PlateOptions
        Resolved plate options (no "auto").
    info : PlateInfo
        The plate's pixel type, alpha and size.
    names : tuple of str or None
        File names in ``frames/`` (numbered sequences), None: ``frame_00001.png`` ….
    numbers : tuple of int
        Frame number of each selected frame (file numbers, else 1-based positions).
    size : (int, int)
        ``(width, height)`` of the written frames.
    staged : bool
        Rendered into ``stylized/`` and delivered (see the module notes).
    """

    options: PlateOptions
    info: PlateInfo
    names: tuple[str, ...] | None
    numbers: tuple[int, ...]
    size: tuple[int, int]
    staged: bool

    @property
    def deep(self) -> bool:
        """Working frames (input/, stylized/) kept at 16 bits: the plate has more than 8."""
        return self.info.deep

    def settings(self) -> dict[str, Any] | None:
        """The settings.json entry (compared on resume); None for a plain job (no entry, as before)."""
        if not (self.staged or self.names is not None or self.deep):
            return None
        return {"format": self.options.output_format, "size": list(self.size),
                "transfer": self.options.input_transfer, "alpha": self.options.alpha,
                "alpha_mask": self.options.alpha_mask, "plate": self.info.kind, "plate_alpha": self.info.alpha,
                "staged": self.staged, "names": None if self.names is None else list(self.names),
                "numbers": list(self.numbers)}

    def workspace(self, root: Path) -> Workspace:
        return Workspace(root, self.names, self.staged)


def plan_delivery(source: FrameSource, options: PlateOptions) -> Delivery:
    """Resolve ``options`` for ``source`` and decide names, size and staging.

    Parameters
    ----------
    source : FrameSource
        The job's frames (selection and working size applied).
    options : PlateOptions
        The user's plate options.

    Returns
    -------
    Delivery
    """
    files = source.files
    info = PlateInfo("uint8", False, source.info.size) if files is None else _probe(files[0], source)
    resolved = options.resolved(info, None if files is None else files[0])
    size = source.info.size if resolved.output_size == "source" else source.frame_size
    ext = output_extension(resolved.output_format)
    stems = source.stems
    names = None if stems is None else tuple(stem + ext for stem in stems)
    if names is None and ext != ".png":
        names = tuple(Path(FRAME_PATTERN.format(k + 1)).with_suffix(ext).name for k in range(len(source)))
    staged = resolved.output_format != "png" or info.alpha or tuple(size) != tuple(source.frame_size)
    return Delivery(resolved, info, names, tuple(source.numbers), tuple(size), bool(staged))


def _probe(path: Path, source: FrameSource) -> PlateInfo:
    from vidstyle.plates import probe_plate

    probed = probe_plate(path)
    return PlateInfo(probed.kind, probed.alpha, source.info.size, probed.tiff)


def _guides(source: FrameSource, positions: list[int], delivery: Delivery) -> Iterator[tuple[int, Any]]:
    """(position, plate raw or None, full-size guide or None) of each frame to deliver, in order."""
    files = source.files
    need_guide = delivery.staged and tuple(delivery.size) != tuple(source.frame_size)
    if files is not None:
        opts = delivery.options
        for pos in positions:
            raw = read_plate(files[pos])
            guide = plate_rgb(raw, transfer=opts.input_transfer, alpha=opts.alpha) if need_guide else None
            yield pos, (raw, guide)
        return
    if not need_guide:
        for pos in positions:
            yield pos, (None, None)
        return
    for pos, frame in source.full_size().frames_at(positions):  # a video: decoded again at full size
        yield pos, (None, frame)


def deliver_frames(ws: Workspace, source: FrameSource, delivery: Delivery, *,
                   progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write every frame of ``frames/`` that is missing or older than its working-size result.

    Parameters
    ----------
    ws : Workspace
        The job's folder (``ws.staged``; results in ``stylized/``).
    source : FrameSource
        The job's frames (plates re-read from it at their own size).
    delivery : Delivery
        What to write (:func:`plan_delivery`).
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    list of Path
        The files of ``frames/`` in order.

    Raises
    ------
    InputError
        A plate or result can no longer be read.
    OptionError, OutputError, ResourceError
        The format cannot be written here (EXR without a backend), or the disk refuses.
    """
    n = len(source)
    targets = [ws.frame_path(ws.frames_dir, i) for i in range(n)]
    results = [ws.frame_path(ws.results_dir, i) for i in range(n)]
    todo = [i for i in range(n) if _stale(targets[i], results[i])]
    done = n - len(todo)
    if progress is not None:
        progress(done, n)
    plate_is_exr = delivery.info.kind == "exr"
    for pos, (raw, guide) in _guides(source, todo, delivery):
        stylized = load_frame_file(results[pos])
        if guide is not None:
            stylized = guided_upsample(stylized, guide)
        elif stylized.shape[:2] != (delivery.size[1], delivery.size[0]):
            stylized = resize_to(stylized, (delivery.size[1], delivery.size[0]))
        write_plate(targets[pos], output_pixels(stylized, raw, delivery.options, plate_is_exr=plate_is_exr),
                    premultiplied=output_premultiplied(delivery.options))
        done += 1
        if progress is not None:
            progress(done, n)
    return targets


def display_reader(delivery: Delivery) -> Callable[[Path], np.ndarray] | None:
    """How the video encoder reads the frames of ``frames/`` when OpenCV cannot (EXR): display-
    referred straight sRGB composited over white (as PNG frames with alpha are), float in [0, 1].
    None: OpenCV reads them."""
    if delivery.options.output_format != "exr":
        return None
    transfer = delivery.options.input_transfer if delivery.info.kind == "exr" else "linear"
    alpha_mode = "premultiplied"  # every EXR vidstyle writes (output_premultiplied)

    def read(path: Path) -> np.ndarray:
        raw = read_plate(path)
        rgb = plate_rgb(raw, transfer=transfer, alpha=alpha_mode)
        if raw.shape[2] == 4:
            a = np.clip(raw[:, :, 3:].astype(np.float32), 0.0, 1.0)
            rgb = rgb * a + (1.0 - a)
        return rgb

    return read


def _stale(target: Path, result: Path) -> bool:
    try:
        return target.stat().st_mtime_ns < result.stat().st_mtime_ns
    except FileNotFoundError:
        return True


def recorded_delivery(ws: Workspace) -> dict[str, Any] | None:
    """The delivery entry of an output folder's settings.json, or None."""
    entry = (ws.recorded_settings() or {}).get(OUTPUT_KEY)
    return entry if isinstance(entry, dict) else None
