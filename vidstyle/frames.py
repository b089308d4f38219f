"""One frame reader for video files and folders of frames.

:func:`open_frames` returns a :class:`FrameSource` whose iteration yields float32 RGB
frames in [0, 1] lazily: video files are decoded by a streaming ffmpeg process (never
the whole clip in memory), folders are read one file at a time. Frames can be selected
(start/end/every) and downscaled so the long side has a given length (``INTER_AREA``,
see DESIGN.md). Numbered image sequences (``shot_a.1001.exr …``, or a SOURCE pattern
``shot_a.####.exr``; :mod:`vidstyle.sequences`) carry their frame numbers and names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidstyle.encode import VideoInfo, probe_video
from vidstyle.errors import InputError, OptionError
from vidstyle.images import (
    MAX_PIXELS,
    MIN_SIDE,
    as_rgb_float,
    long_side_size,
    read_rgb,
    resize_to,
    save_image,
    write_atomic,
)
from vidstyle.plates import PlateOptions, plate_rgb, plate_size, read_plate
from vidstyle.sequences import (
    NumberedSequence,
    is_pattern,
    numbered_folder,
    pattern_files,
    positions_for_numbers,
    sequence_folder,
)

__all__ = [
    "DEFAULT_FPS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FrameSelection",
    "FrameSource",
    "VideoInfo",
    "extract_frames",
    "frame_selection",
    "is_numbered",
    "list_frame_files",
    "load_frame_file",
    "natural_key",
    "open_frames",
    "source_exists",
]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".gif", ".webm", ".m4v")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp", ".exr")
#: Frame rate assumed for a folder of frames (and a video without rate metadata).
DEFAULT_FPS = 25.0
_MANIFEST = ".extract.json"


@dataclass(frozen=True)
class FrameSelection:
    """Which frames of a source to use: ``range(start, end, every)``, 0-based.

    Attributes
    ----------
    start : int
        First frame (0-based, >= 0).
    end : int or None
        One past the last frame (exclusive); None means to the end. Clamped to the
        source's length.
    every : int
        Take every n-th frame (>= 1).
    """

    start: int = 0
    end: int | None = None
    every: int = 1

    def __post_init__(self) -> None:
        if self.start < 0:
            raise OptionError(f"start frame must be >= 0 (0-based), got {self.start}")
        if self.every < 1:
            raise OptionError(f"'every' must be >= 1, got {self.every}")
        if self.end is not None and self.end <= self.start:
            raise OptionError(
                f"end frame {self.end} must be after start frame {self.start} (end is exclusive)"
            )

    def indices(self, frame_count: int) -> range:
        """Source frame indices selected from a source of ``frame_count`` frames.

        Parameters
        ----------
        frame_count : int
            Frames in the source.

        Returns
        -------
        range
            Selected 0-based indices.

        Raises
        ------
        OptionError
            ``start`` is past the last frame.
        """
        if self.start >= frame_count:
            raise OptionError(
                f"--start {self.start + 1} is past the end of the source ({frame_count} frames): "
                f"choose --start between 1 and {frame_count}"
            )
        end = frame_count if self.end is None else min(self.end, frame_count)
        return range(self.start, end, self.every)


class FrameSource:
    """Lazily read, selected and resized frames of a video file or a folder.

    Build one with :func:`open_frames`. Iterating yields ``(H, W, 3)`` float32 RGB
    frames in [0, 1]; it may be iterated several times (each pass re-reads).

    Attributes
    ----------
    info : VideoInfo
        Source metadata (whole source, before selection and resizing).
    selection : FrameSelection
        The frames used.
    indices : range
        0-based source indices of the selected frames.
    frame_size : tuple of int
        ``(width, height)`` of the frames yielded (after ``long_side``).
    """

    def __init__(
        self,
        info: VideoInfo,
        selection: FrameSelection,
        long_side: int | None,
        files: list[Path] | None,
        *,
        source_fps: float | None = None,
        numbers: list[int] | None = None,
        reader: Callable[[Path], np.ndarray] | None = None,
    ) -> None:
        self.info = info
        self._source_fps = source_fps or info.fps
        self.selection = selection
        self.long_side = long_side
        self._files = files
        self._numbers = numbers
        self._reader = reader or load_frame_file
        if info.frame_count is None:  # pragma: no cover - probe always counts or fails
            raise InputError(f"cannot count the frames of '{info.source}'; re-export the video")
        self.indices = selection.indices(info.frame_count)
        w, h = info.size
        if long_side is not None and max(w, h) > long_side:
            h, w = long_side_size((h, w), long_side)
        self.frame_size = (w, h)

    @property
    def is_video(self) -> bool:
        """True for a video file, False for a folder of frames."""
        return self._files is None

    @property
    def fps(self) -> float:
        """Frame rate of the selected frames: ``info.fps / selection.every``."""
        return self.info.fps / self.selection.every

    @property
    def files(self) -> list[Path] | None:
        """Selected frame files (folders), or None for a video file."""
        if self._files is None:
            return None
        return [self._files[i] for i in self.indices]

    @property
    def numbered(self) -> bool:
        """True for a numbered image sequence (its frames keep their numbers and names)."""
        return self._numbers is not None

    @property
    def numbers(self) -> list[int]:
        """Frame number of each selected frame: the file numbers of a numbered sequence,
        else 1-based positions in the source."""
        if self._numbers is not None:
            return [self._numbers[i] for i in self.indices]
        return [i + 1 for i in self.indices]

    @property
    def stems(self) -> list[str] | None:
        """File names without extension of the selected frames of a numbered sequence
        (``shot_a.1001``), else None."""
        files = self.files
        return None if files is None or self._numbers is None else [p.stem for p in files]

    def full_size(self) -> FrameSource:
        """The same frames at the source's own size (no ``long_side``), read the same way."""
        return FrameSource(self.info, self.selection, None, self._files, source_fps=self._source_fps,
                           numbers=self._numbers, reader=self._reader if self._files is not None else None)

    def time_range_s(self) -> tuple[float, float]:
        """Start and duration (seconds) of the selected frames in the source.

        Computed with the file's own frame rate even when ``fps`` was overridden in
        :func:`open_frames`, so the audio of the selected range stays in sync.

        Returns
        -------
        tuple of float
            ``(start_s, duration_s)``, to pass as ``audio_start_s`` /
            ``audio_duration_s`` to :func:`vidstyle.encode.encode_video`.
        """
        start = self.indices.start / self._source_fps
        duration = len(self) * self.selection.every / self._source_fps
        return start, duration

    @property
    def audio_tempo(self) -> float:
        """Speed-up of the source's audio that keeps it in sync with frames retimed by ``fps``."""
        return self.info.fps / self._source_fps

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self._iter(skip=frozenset()):
            assert frame is not None
            yield frame

    def frames_at(self, positions: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Decode only the selected frames at these 0-based positions (in clip order).

        Yields ``(position, frame)``. A video is decoded only up to the last position; the
        frames in between pass ffmpeg's pipe but are neither converted nor resized.
        """
        wanted = sorted(set(positions))
        if not wanted:
            return
        skip = frozenset(range(len(self))) - frozenset(wanted)
        for pos, frame in enumerate(self._iter(skip)):
            if frame is not None:
                yield pos, frame
            if pos >= wanted[-1]:
                return

    def __repr__(self) -> str:
        return (
            f"FrameSource({str(self.info.source)!r}, {len(self)} frames, "
            f"{self.frame_size[0]}x{self.frame_size[1]}, {self.fps:.6g} fps)"
        )

    def _iter(self, skip: frozenset[int]) -> Iterator[np.ndarray | None]:
        """Yield each selected frame; None (not decoded) at positions in ``skip``."""
        if self._files is not None:
            for pos, index in enumerate(self.indices):
                yield None if pos in skip else self._resize(self._reader(self._files[index]))
            return
        yield from self._iter_video(skip)

    def _iter_video(self, skip: frozenset[int]) -> Iterator[np.ndarray | None]:
        import imageio_ffmpeg

        sel = self.indices
        if not len(sel):
            return
        # ffmpeg drops unselected frames after decoding, so they never cross the pipe;
        # passthrough: every selected decoded frame exactly once (no fps dup/drop).
        keep = f"select='between(n,{sel.start},{sel[-1]})*not(mod(n-{sel.start},{sel.step}))'"
        reader = imageio_ffmpeg.read_frames(
            str(self.info.source),
            pix_fmt="rgb24",
            input_params=["-nostdin"],
            output_params=["-map", "0:v:0", "-vf", keep, "-fps_mode", "passthrough"],
        )
        produced = 0
        try:
            w, h = next(reader)["size"]
            for pos, raw in enumerate(reader):
                produced += 1
                if pos in skip:
                    yield None
                else:
                    frame = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
                    yield self._resize(as_rgb_float(frame, bgr=False))
                if produced == len(sel):
                    break  # closing the reader stops ffmpeg: no decoding past the end
        except (OSError, RuntimeError, ValueError, IndexError) as exc:
            first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise InputError(
                f"'{self.info.source}' could not be decoded ({first_line}); re-export the video"
            ) from exc
        finally:
            reader.close()
        if produced < len(sel):
            logger.warning(
                "'%s': only %d of %d selected frames could be decoded",
                self.info.source, produced, len(sel),
            )  # fmt: skip

    def _resize(self, frame: np.ndarray) -> np.ndarray:
        w, h = self.frame_size
        return resize_to(frame, (h, w))


def open_frames(
    path: str | os.PathLike[str],
    *,
    selection: FrameSelection = FrameSelection(),
    long_side: int | None = None,
    fps: float | None = None,
    plate: PlateOptions | None = None,
) -> FrameSource:
    """Open a video file or a folder of frames for lazy reading.

    Parameters
    ----------
    path : str or os.PathLike
        A video file (see :data:`VIDEO_EXTENSIONS`; any file ffmpeg reads works), a
        folder of images (:data:`IMAGE_EXTENSIONS`, natural sort: ``frame2`` before
        ``frame10``; number order for a ``NAME.NUMBER.EXT`` sequence), or a pattern
        ``folder/shot_a.####.exr`` / ``shot_a.%04d.exr`` (:mod:`vidstyle.sequences`).
    selection : FrameSelection
        Frames to use.
    long_side : int, optional
        Downscale frames so the long side has this length (``INTER_AREA``); frames are
        never enlarged.
    fps : float, optional
        Frame rate of the source; overrides the video's metadata. Default: the
        video's rate, or :data:`DEFAULT_FPS` for folders.
    plate : PlateOptions, optional
        Read image files as plates (:func:`vidstyle.plates.plate_rgb`: straight RGB,
        scene-linear EXR sRGB-encoded). None: as any image (alpha over white, values clipped).

    Returns
    -------
    FrameSource
        Nothing is decoded yet except folder image headers.

    Raises
    ------
    InputError
        Missing path, unreadable/corrupt video, a folder without frames, or frames of
        mixed sizes (the message names the first odd file).
    OptionError
        Selection impossible for this source, or a bad ``long_side``/``fps``.
    """
    path = Path(path)
    if long_side is not None and long_side < 1:
        raise OptionError(f"long side must be >= 1 px, got {long_side}")
    if fps is not None and not fps > 0:
        raise OptionError(f"frame rate must be positive, got {fps}")
    reader = None if plate is None else _plate_reader(plate)
    if is_pattern(path) or path.is_dir():
        sequence = _sequence(path)
        files = sequence.files if sequence is not None else list_frame_files(path)
        size = _common_size(files)
        info = VideoInfo(
            fps=fps or DEFAULT_FPS, frame_count=len(files), size=size, has_audio=False, source=path
        )
        numbers = sequence.numbers if sequence is not None else None
        return _checked(FrameSource(info, selection, long_side, files, numbers=numbers, reader=reader))
    if not path.exists():
        raise InputError(f"cannot read '{path}': not found; give a video file or a folder of frames")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise InputError(
            f"'{path}' is a single image; give a video file or a folder of frames"
        )
    info = probe_video(path)
    source_fps = info.fps
    if not source_fps:
        logger.warning("'%s' has no frame rate; assuming %g fps", path, DEFAULT_FPS)
        source_fps = DEFAULT_FPS
    info = VideoInfo(fps or source_fps, info.frame_count, info.size, info.has_audio, info.source)
    return _checked(FrameSource(info, selection, long_side, None, source_fps=source_fps))


def _plate_reader(plate: PlateOptions) -> Callable[[Path], np.ndarray]:
    def read(path: Path) -> np.ndarray:
        return plate_rgb(read_plate(path), transfer=plate.transfer_of(path), alpha=plate.alpha_of(path))

    return read


def _sequence(path: Path) -> NumberedSequence | None:
    """The numbered sequence a pattern or folder holds, or None for a plain folder."""
    if is_pattern(path):
        return pattern_files(path)
    return numbered_folder(list_frame_files(path))


def frame_selection(path: str | os.PathLike[str], start: int | None, end: int | None,
                    every: int = 1) -> FrameSelection:
    """The frames ``--start``/``--end``/``--every`` select in a SOURCE.

    Parameters
    ----------
    path : str or os.PathLike
        The SOURCE (video file, folder or pattern).
    start, end : int or None
        First and last frame, inclusive; None: from the first / to the last. For a
        numbered sequence these are the files' frame numbers (``1001``), else 1-based
        positions.
    every : int
        Take every n-th selected frame.

    Returns
    -------
    FrameSelection
        0-based positions.

    Raises
    ------
    OptionError
        Numbers outside the sequence, or ``end`` before ``start``.
    InputError
        A pattern that matches no file.
    """
    path = Path(path)
    sequence = None
    if is_pattern(path) or path.is_dir():
        try:
            sequence = _sequence(path)
        except InputError:
            if not is_pattern(path):
                sequence = None  # an empty folder: open_frames says so
            else:
                raise
    if sequence is not None:
        lo, hi = positions_for_numbers(sequence.numbers, start, end, sequence.label)
        return FrameSelection(start=lo, end=hi, every=every)
    for flag, value in (("--start", start), ("--end", end)):
        if value is not None and value < 1:
            raise OptionError(f"{flag} {value} is not a frame of '{path}': its frames count from 1")
    if start is not None and end is not None and end < start:
        raise OptionError(f"--end {end} is before --start {start}: give the last frame to use (inclusive)")
    return FrameSelection(start=(start or 1) - 1, end=end, every=every)


def is_numbered(path: str | os.PathLike[str]) -> bool:
    """True when SOURCE is a numbered sequence: a pattern, or a folder of ``NAME.NUMBER.EXT`` files."""
    path = Path(path)
    if is_pattern(path):
        return True
    try:
        return path.is_dir() and _sequence(path) is not None
    except InputError:
        return False


def source_exists(path: str | os.PathLike[str]) -> bool:
    """True when SOURCE names something to read: a file, a folder, or a pattern in a folder."""
    path = Path(path)
    return path.exists() or (is_pattern(path) and sequence_folder(path).is_dir())


def _checked(source: FrameSource) -> FrameSource:
    """Apply the image size limits to the frames the source will yield."""
    w, h = source.frame_size
    if min(w, h) < MIN_SIDE:
        raise InputError(
            f"frames of '{source.info.source}' would be {w}x{h} px, smaller than "
            f"{MIN_SIDE} px on a side; use larger frames or a larger --size"
        )
    if w * h > MAX_PIXELS:
        raise InputError(
            f"frames of '{source.info.source}' are {w}x{h} px, more than the "
            f"{MAX_PIXELS / 1e6:.1f} megapixel limit; use --size N to downscale them"
        )
    return source


def natural_key(name: str) -> tuple:
    """Sort key ordering embedded numbers numerically (``frame2`` < ``frame10``).

    Parameters
    ----------
    name : str
        File name.

    Returns
    -------
    tuple
        Key for :func:`sorted`.
    """
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p), p) if p.isdigit() else (1, p.lower(), p) for p in parts if p)


def list_frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files of a folder in natural order (hidden files excluded).

    Parameters
    ----------
    folder : str or os.PathLike
        Folder of frames.

    Returns
    -------
    list of pathlib.Path
        Frame files.

    Raises
    ------
    InputError
        The folder has no image files.
    """
    folder = Path(folder)
    files = [
        p for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]  # fmt: skip
    if not files:
        kinds = "/".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
        raise InputError(f"no frames ({kinds}) in '{folder}'; export the video's frames there first")
    return sorted(files, key=lambda p: natural_key(p.name))


def load_frame_file(path: Path) -> np.ndarray:
    """Read one frame of a folder as float32 RGB (converted like :func:`load_image`).

    Parameters
    ----------
    path : pathlib.Path
        Image file.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1] at the file's own size (size limits are
        checked once for the whole source by :func:`open_frames`).
    """
    return read_rgb(path)


def _common_size(files: list[Path]) -> tuple[int, int]:
    """Header size of every file; InputError on an unreadable one or a size mismatch."""
    first_size = None
    for path in files:
        size = plate_size(path)
        if size is None:
            raise InputError(f"cannot read frame '{path}': file is empty or corrupt; re-export it")
        if first_size is None:
            first_size = size
        elif size != first_size:
            raise InputError(
                f"frame '{path.name}' is {size[0]}x{size[1]} px but '{files[0].name}' is "
                f"{first_size[0]}x{first_size[1]} px; all frames in '{path.parent}' must "
                "have one size"
            )
    assert first_size is not None
    return first_size


def extract_frames(
    source: FrameSource,
    out_dir: str | os.PathLike[str],
    *,
    pattern: str = "frame_{:05d}.png",
    bit_depth: int = 8,
) -> list[Path]:
    """Write each selected frame as an image file (atomic), resuming earlier runs.

    Parameters
    ----------
    source : FrameSource
        Frames to write (selection and ``long_side`` applied).
    out_dir : str or os.PathLike
        Destination folder (created).
    pattern : str
        File name pattern formatted with the 1-based position in the selection.
    bit_depth : {8, 16}
        Bits per channel of the files (16 keeps 16-bit and float plates' precision).

    Returns
    -------
    list of pathlib.Path
        Written files in order.

    Notes
    -----
    A manifest (``.extract.json``) records the source (path, size, modification time),
    selection and frame size. On a rerun with the same manifest, files that exist are
    kept and only missing ones are decoded; with a different
    manifest the old files are removed first, so stale frames are never reused. Files are
    written atomically, so an existing file is a complete frame and is not re-read.
    """
    out_dir = Path(out_dir)
    paths = [out_dir / pattern.format(pos + 1) for pos in range(len(source))]
    key = _source_key(source, pattern)
    if bit_depth != 8:  # only then, so folders extracted before keep their key
        key["bit_depth"] = bit_depth
    manifest = out_dir / _MANIFEST
    previous = None
    if manifest.is_file():
        try:
            previous = json.loads(manifest.read_text())
        except (OSError, ValueError):
            previous = None
    if previous != key:
        for path in paths:
            path.unlink(missing_ok=True)
        write_atomic(manifest, json.dumps(key, indent=1).encode())
    # Frames are written atomically under a matching manifest, so an existing file is
    # complete: checking existence only keeps a resume O(1) per frame (no decoding).
    done = frozenset(pos for pos, path in enumerate(paths) if path.is_file())
    if len(done) < len(paths):
        if done:
            logger.info("resuming extraction: %d of %d frames already there", len(done), len(paths))
        for pos, frame in enumerate(source._iter(skip=done)):
            if frame is not None:
                save_image(paths[pos], frame, bit_depth=bit_depth)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"'{source.info.source}' ended early: {len(missing)} of {len(paths)} selected "
            "frames could not be decoded; re-export the video"
        )
    return paths


def _source_key(source: FrameSource, pattern: str) -> dict:
    """Identity of what extract_frames writes: source content stamp and settings."""
    info = source.info
    digest = hashlib.sha256()
    for path in source.files if source.files is not None else [info.source]:
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    sel = source.selection
    return {
        "source": str(Path(info.source).resolve()),
        "stamp": digest.hexdigest(),
        "selection": [sel.start, sel.end, sel.every],
        "frame_size": list(source.frame_size),
        "pattern": pattern,
    }
