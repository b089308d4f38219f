"""ffmpeg: probe video files and encode stylized frames (with the source's audio).

All calls run the ffmpeg binary bundled with ``imageio-ffmpeg`` as a subprocess with an
argument list (never a shell). Outputs are written to a temp name beside the target
and renamed when ffmpeg succeeded, so a crash never leaves a truncated video.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vidstyle.codecs import CODECS, Codec, check_frame_size, even_size
from vidstyle.errors import InputError, OptionError, OutputError, ResourceError
from vidstyle.images import as_rgb_float, output_error, temp_path_for

__all__ = [
    "OUTPUT_FORMATS",
    "VideoInfo",
    "encode_video",
    "ffmpeg_exe",
    "has_audio",
    "probe_video",
]

logger = logging.getLogger(__name__)

#: Output extension -> (default video codec, audio codec or None when unsupported).
OUTPUT_FORMATS: dict[str, tuple[str, str | None]] = {
    ".mp4": ("libx264", "aac"),
    ".m4v": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"),
    ".webm": ("libvpx-vp9", "libopus"),
    ".gif": ("gif", None),
}
#: Seconds allowed for reading a file's header, and for counting its frames.
_HEADER_TIMEOUT_S = 60
_COUNT_TIMEOUT_S = 300
#: Count frames from the video packets (stream copy, no decoding), else by decoding.
_COUNT_PACKETS = ["-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
_COUNT_DECODED = ["-map", "0:v:0", "-f", "null", "-"]
_AUDIO_BITRATE = "192k"
_CRF_RANGE = (0, 63)  # x264/x265 use 0-51, VP9 0-63


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a frame source.

    Attributes
    ----------
    fps : float
        Frames per second of the source (folders: 25 unless the caller says otherwise).
    frame_count : int or None
        Number of frames in the whole source (not the selection); None if unknown.
    size : tuple of int
        ``(width, height)`` of the source frames, after display rotation.
    has_audio : bool
        Whether the file has an audio stream (always False for folders).
    source : pathlib.Path
        The file or folder.
    """

    fps: float
    frame_count: int | None
    size: tuple[int, int]
    has_audio: bool
    source: Path


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with ``imageio-ffmpeg``.

    Returns
    -------
    str
        Executable path.

    Raises
    ------
    ResourceError
        The binary is missing (reinstall ``imageio-ffmpeg``).
    """
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise ResourceError(
            "ffmpeg not found; reinstall it with `pip install --force-reinstall imageio-ffmpeg`"
        ) from exc


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video file's frame rate, size, exact frame count and audio presence.

    Parameters
    ----------
    path : str or os.PathLike
        Video file (anything ffmpeg reads).

    Returns
    -------
    VideoInfo
        ``frame_count`` is counted from the video packets (stream copy, no decoding,
        milliseconds even for long clips), falling back to a full decode, then to
        ``duration × fps``; None only if all fail.

    Raises
    ------
    InputError
        The file is missing, or is empty/corrupt/has no video stream.
    """
    path = _existing_file(path)
    header = _parse_header(_run_ffmpeg_probe(path, []), path)
    count = None
    for output_args in (_COUNT_PACKETS, _COUNT_DECODED):
        text = _run_ffmpeg_probe(path, output_args, timeout_s=_COUNT_TIMEOUT_S)
        if text is None:  # huge file: fall back to the estimate below
            break
        count = _last_frame_count(text)
        if count:
            break
    if not count and header["duration"] and header["fps"]:
        logger.warning("could not count the frames of '%s'; estimating from its duration", path)
        count = round(header["duration"] * header["fps"])
    if count == 0:
        raise InputError(f"'{path}' has no readable video frames; check the file or re-export it")
    return VideoInfo(
        fps=header["fps"],
        frame_count=count,
        size=header["size"],
        has_audio=header["has_audio"],
        source=path,
    )


def has_audio(path: str | os.PathLike[str]) -> bool:
    """Whether a media file has an audio stream.

    Parameters
    ----------
    path : str or os.PathLike
        Media file.

    Returns
    -------
    bool
        True if ffmpeg lists at least one audio stream.

    Raises
    ------
    InputError
        The file is missing.
    """
    path = _existing_file(path)
    text = _run_ffmpeg_probe(path, [])
    head = re.split(r"^(?:Output #|Stream mapping:)", text, maxsplit=1, flags=re.MULTILINE)[0]
    return _AUDIO_STREAM.search(head) is not None


def encode_video(
    frame_paths: Sequence[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    *,
    fps: float,
    crf: int = 18,
    codec: str | None = None,
    audio_from: str | os.PathLike[str] | None = None,
    audio_start_s: float = 0.0,
    audio_duration_s: float | None = None,
    audio_tempo: float = 1.0,
    reader: Callable[[Path], np.ndarray] | None = None,
) -> Path:
    """Encode image files into a video, optionally with audio from another file.

    Parameters
    ----------
    frame_paths : sequence of path
        Frames in display order; all of one size (any format :mod:`cv2` reads).
    out_path : path
        ``.mp4``/``.m4v``/``.mov``/``.mkv`` (H.264, yuv420p, AAC audio), ``.webm``
        (VP9, Opus audio) or ``.gif`` (per-clip palette, no audio).
    fps : float
        Output frame rate (> 0).
    crf : int
        Constant rate factor (quality; lower is better, 18 is visually lossless for
        H.264). Ignored for GIF.
    codec : str, optional
        A ``--codec`` name of :data:`vidstyle.codecs.CODECS`: ``"h264"``, ``"prores"``
        (ProRes 422 HQ) or ``"dnxhr"`` (DNxHR HQX); the last two need a ``.mov`` target,
        are 10-bit 4:2:2, tagged BT.709, with 24-bit PCM audio, and ignore ``crf``. Any
        other value is an ffmpeg video encoder overriding the format's default (e.g.
        ``"libx265"``).
    audio_from : path, optional
        Video or audio file whose first audio stream is muxed in; ignored (logged) if it
        has none.
    audio_start_s : float
        Offset into ``audio_from`` where the selected frames start (seconds).
    audio_duration_s : float, optional
        Length of audio to take; defaults to ``len(frame_paths) / fps``. The output
        ends with the shorter stream.
    audio_tempo : float
        Play the audio this many times faster, pitch kept (ffmpeg ``atempo``): the
        source's frame rate over ``fps`` when the frames are retimed, so picture and
        sound stay in sync.
    reader : callable, optional
        Decodes a frame file to float RGB in [0, 1] (``(H, W, 3)``) where OpenCV cannot
        (EXR frames: :func:`vidstyle.delivery.display_reader`); default OpenCV.

    Returns
    -------
    pathlib.Path
        ``out_path``, written atomically.

    Raises
    ------
    InputError
        No frames, a frame missing/unreadable/of another size, ``audio_from`` missing.
    OptionError
        Unsupported extension (or one the codec cannot go in), fps <= 0, crf out of
        range, frames smaller than the codec accepts.
    OutputError
        The target cannot be written, or ffmpeg fails (its last error line is quoted).
    ResourceError
        The disk is full.

    Notes
    -----
    Odd widths/heights (4:2:0 and 4:2:2 chroma need even ones) are padded by one
    replicated edge row/column, never a black line and never resampled; a warning says
    so (the frames on disk keep their size).
    """
    out_path = Path(out_path)
    ext = out_path.suffix.lower()
    if ext not in OUTPUT_FORMATS:
        formats = ", ".join(OUTPUT_FORMATS)
        raise OptionError(f"cannot write video '{out_path}': unsupported format; use one of {formats}")
    spec = CODECS.get(codec) if codec else None
    if spec is not None and ext not in spec.extensions:
        raise OptionError(f"cannot write video '{out_path}': {spec.label} goes into "
                          f"{' or '.join(spec.extensions)} files; name the video {out_path.stem}{spec.extensions[0]}")
    if not fps > 0:
        raise OptionError(f"frame rate must be positive, got {fps}")
    if not _CRF_RANGE[0] <= crf <= _CRF_RANGE[1]:
        raise OptionError(f"crf must be in {_CRF_RANGE[0]}..{_CRF_RANGE[1]}, got {crf}")
    if audio_start_s < 0 or (audio_duration_s is not None and audio_duration_s <= 0):
        raise OptionError("audio start must be >= 0 and duration > 0 seconds")
    if not 0.01 <= audio_tempo <= 100:
        raise OptionError(f"audio tempo must be between 0.01 and 100, got {audio_tempo:g}: choose a closer --fps")
    paths = [Path(p) for p in frame_paths]
    if not paths:
        raise InputError(f"no frames to encode into '{out_path}'; stylize some frames first")
    deep = spec is not None and spec.editorial
    first = _read_frame(paths[0], deep=deep, reader=reader)
    height, width = first.shape[:2]
    if spec is not None:
        check_frame_size(spec.name, (width, height))

    default_codec, audio_codec = OUTPUT_FORMATS[ext]
    if spec is not None and spec.audio:
        audio_codec = spec.audio
    video_codec = spec.encoder if spec is not None else codec or default_codec
    use_audio = False
    if audio_from is not None:
        audio_from = _existing_file(audio_from)
        if audio_codec is None:
            logger.warning("%s output cannot carry audio; audio of '%s' dropped", ext, audio_from)
        elif has_audio(audio_from):
            use_audio = True
        else:
            logger.info("'%s' has no audio stream; encoding video only", audio_from)

    even_w, even_h = (width, height) if ext == ".gif" else even_size((width, height))
    pad_w, pad_h = even_w - width, even_h - height
    if pad_w or pad_h:
        logger.warning("%s: the frames are %dx%d px and %s needs even sizes, so the video is %dx%d "
                       "(edge pixels repeated; the frames keep their size)", out_path.name, width, height,
                       spec.label if spec is not None else video_codec, width + pad_w, height + pad_h)
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb48le" if deep else "rgb24", "-s", f"{width + pad_w}x{height + pad_h}",
        "-framerate", _rate(fps), "-i", "pipe:0",
    ]  # fmt: skip
    if use_audio:
        duration = audio_duration_s if audio_duration_s is not None else len(paths) / fps
        cmd += ["-ss", f"{audio_start_s:.6f}", "-t", f"{duration:.6f}", "-i", str(audio_from)]
        cmd += ["-map", "0:v:0", "-map", "1:a:0", "-c:a", audio_codec]
        if not audio_codec.startswith("pcm_"):
            cmd += ["-b:a", _AUDIO_BITRATE]
        # Pad the audio with silence so the video, not the (AAC-frame granular) audio,
        # decides the length: -shortest then never drops the last video frames.
        cmd += ["-af", ",".join([*_atempo_chain(audio_tempo), "apad"]), "-shortest"]
    else:
        cmd += ["-map", "0:v:0"]
    cmd += _editorial_args(spec) if deep else _video_args(ext, video_codec, crf)

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(out_path.parent, os.W_OK):
            raise PermissionError(errno.EACCES, "permission denied")
    except OSError as exc:
        raise output_error(out_path, exc) from exc
    tmp = temp_path_for(out_path)
    try:
        _run_encoder([*cmd, str(tmp)], paths, first, (pad_h, pad_w), out_path, deep=deep, reader=reader)
        os.replace(tmp, out_path)
    except OSError as exc:
        raise output_error(out_path, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("wrote %s (%d frames at %.6g fps%s)", out_path, len(paths), fps,
                ", with audio" if use_audio else "")  # fmt: skip
    return out_path


def _atempo_chain(tempo: float) -> list[str]:
    """``atempo`` filters whose product is ``tempo`` (each within the 0.5–2 every ffmpeg accepts)."""
    if abs(tempo - 1.0) < 1e-9:
        return []
    filters = []
    while tempo > 2.0:
        filters.append("atempo=2")
        tempo /= 2.0
    while tempo < 0.5:
        filters.append("atempo=0.5")
        tempo /= 0.5
    return [*filters, f"atempo={tempo:.9g}"]


def _rate(fps: float) -> str:
    """Frame rate as an exact fraction (25/3, 30000/1001) so time bases stay small."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


def _editorial_args(spec: Codec) -> list[str]:
    """ProRes/DNxHR: BT.709 conversion and tags, the codec's profile, QuickTime container."""
    return [*spec.filter_args(), "-c:v", spec.encoder, *spec.args, "-f", "mov"]


def _video_args(ext: str, codec: str, crf: int) -> list[str]:
    if ext == ".gif":
        palette = "split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=sierra2_4a"
        return ["-vf", palette, "-loop", "0", "-f", "gif"]
    args = ["-c:v", codec, "-pix_fmt", "yuv420p", "-crf", str(crf)]
    if codec.startswith("libvpx"):
        args += ["-b:v", "0", "-row-mt", "1"]
    if codec in ("libx264", "libx265"):
        args += ["-preset", "medium"]
    if codec == "libx265" and ext in (".mp4", ".mov", ".m4v"):
        args += ["-tag:v", "hvc1"]  # plays in QuickTime/Safari
    if ext in (".mp4", ".mov", ".m4v"):
        args += ["-movflags", "+faststart"]
    muxer = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}[ext]
    return [*args, "-f", muxer]


def _run_encoder(
    cmd: list[str],
    paths: list[Path],
    first: np.ndarray,
    pad_hw: tuple[int, int],
    out_path: Path,
    *,
    deep: bool = False,
    reader: Callable[[Path], np.ndarray] | None = None,
) -> None:
    """Pipe frames into ffmpeg; raise OutputError with its last error line on failure."""
    size = first.shape[:2]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        frame_error: Exception | None = None
        try:
            for index, path in enumerate(paths):
                try:
                    frame = first if index == 0 else _read_frame(path, deep=deep, reader=reader)
                    if frame.shape[:2] != size:
                        raise InputError(
                            f"frame '{path}' is {frame.shape[1]}x{frame.shape[0]} px but "
                            f"'{paths[0].name}' is {size[1]}x{size[0]} px; all frames must match"
                        )
                except InputError as exc:
                    frame_error = exc
                    break
                if pad_hw != (0, 0):
                    frame = cv2.copyMakeBorder(frame, 0, pad_hw[0], 0, pad_hw[1], cv2.BORDER_REPLICATE)
                process.stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass  # ffmpeg died; its log says why
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
            if frame_error is not None:
                process.kill()
            returncode = process.wait()
        if frame_error is not None:
            raise frame_error
        if returncode != 0:
            log.seek(0)
            lines = [ln.strip() for ln in log.read().decode(errors="replace").splitlines() if ln.strip()]
            last = lines[-1] if lines else f"exit status {returncode}"
            if "No space left" in last:
                raise ResourceError(f"disk full while writing '{out_path}'; free some space or choose another -o")
            raise OutputError(f"ffmpeg could not write '{out_path}': {last}")


def _read_frame(path: Path, *, deep: bool = False, reader: Callable[[Path], np.ndarray] | None = None
                ) -> np.ndarray:
    """Read a frame as uint8 RGB ``(H, W, 3)``, or uint16 RGB with ``deep`` (8-bit files × 257)."""
    if not path.is_file():
        raise InputError(f"cannot encode: frame '{path}' not found; rerun the stylization to redo it")
    dtype = np.uint16 if deep else np.uint8
    if reader is not None:
        rgb = np.clip(reader(path), 0.0, 1.0)
        return np.rint(rgb * float(np.iinfo(dtype).max)).astype(dtype)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise InputError(f"cannot encode: frame '{path}' is empty or corrupt; delete it and rerun")
    if raw.ndim == 3 and raw.shape[2] == 3 and raw.dtype in (np.uint8, np.uint16):
        if raw.dtype == dtype:
            return np.ascontiguousarray(raw[:, :, ::-1])
        if deep:  # 8-bit → 16-bit exactly (255 → 65535)
            return np.ascontiguousarray(raw[:, :, ::-1]).astype(np.uint16) * np.uint16(257)
    rgb = as_rgb_float(raw, path=path)
    return np.rint(rgb * float(np.iinfo(dtype).max)).astype(dtype)


# --- probing ---------------------------------------------------------------------------

_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.MULTILINE)
_AUDIO_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: Audio: ", re.MULTILINE)
_SIZE = re.compile(r"(?:^|[ ,])(\d{1,6})x(\d{1,6})(?=[ ,\[]|$)")
_FPS = re.compile(r"([0-9]+(?:\.[0-9]+)?)(k?) (fps|tbr)\b")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees|rotate\s*:\s*(-?\d+)")
_FRAME = re.compile(r"frame=\s*(\d+)")


def _existing_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"cannot read '{path}': file not found; check the path")
    if not path.is_file():
        raise InputError(f"cannot read '{path}': not a video file")
    return path


def _run_ffmpeg_probe(
    path: Path, output_args: list[str], *, timeout_s: float | None = None
) -> str | None:
    """Run ``ffmpeg -i path <output_args>`` and return its log (stderr).

    Without ``timeout_s`` a hang raises InputError; with it, None is returned.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), *output_args]
    try:
        result = subprocess.run(
            cmd, capture_output=True, timeout=timeout_s or _HEADER_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        if timeout_s is not None:
            return None
        raise InputError(f"'{path}' took too long to open; check the file or re-export it") from exc
    return result.stderr.decode(errors="replace")


def _parse_header(text: str, path: Path) -> dict:
    """Parse fps, size, duration and audio presence from ffmpeg's input description."""
    # Only the input section: output streams come after "Output #0" / "Stream mapping".
    head = re.split(r"^(?:Output #|Stream mapping:)", text, maxsplit=1, flags=re.MULTILINE)[0]
    video = [m.group(2) for m in _STREAM.finditer(head) if m.group(1) == "Video"]
    if not video:
        raise InputError(f"'{path}' has no readable video frames; check the file or re-export it")
    desc = video[0]
    size_match = _SIZE.search(desc)
    if size_match is None:
        raise InputError(f"'{path}' has no readable video frames; check the file or re-export it")
    width, height = int(size_match.group(1)), int(size_match.group(2))
    rotation = _ROTATION.search(head)
    if rotation is not None:
        angle = float(rotation.group(1) or rotation.group(2))
        if round(abs(angle)) % 180 == 90:
            width, height = height, width
    fps = 0.0
    rates = {kind: float(v) * (1000 if k else 1) for v, k, kind in _FPS.findall(desc)}
    fps = rates.get("fps") or rates.get("tbr") or 0.0
    duration = 0.0
    dur = _DURATION.search(head)
    if dur is not None:
        duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3))
    return {
        "size": (width, height),
        "fps": fps,
        "duration": duration,
        "has_audio": _AUDIO_STREAM.search(head) is not None,
    }


def _last_frame_count(text: str) -> int | None:
    matches = _FRAME.findall(text)
    return int(matches[-1]) if matches else None
