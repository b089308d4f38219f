"""Image sequences as studios name them: ``shot_a.1001.exr …``, patterns and frame numbers.

A *numbered sequence* is either

* a SOURCE given as a pattern, ``shot_a.####.exr`` (one ``#`` per digit of padding) or
  ``shot_a.%04d.exr`` (printf style), which selects the matching files of its folder, or
* a folder in which every frame file is named ``NAME.NUMBER.EXT`` with one ``NAME`` and one
  ``EXT`` (``shot_a.1001.png``, ``shot_a.1002.png`` …), the convention of Nuke, Houdini and
  OpenImageIO.

Their frames carry numbers: the file numbers (``1001`` …), which ``--start``/``--end`` take,
and their stylized frames keep the plates' names. Any other folder (``f1.png``, ``img_a.jpg``
…) is a plain list of frames: its frames are numbered 1, 2, … by position, as before.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vidstyle.errors import InputError, OptionError

__all__ = [
    "NumberedSequence",
    "is_pattern",
    "numbered_folder",
    "pattern_files",
    "positions_for_numbers",
    "sequence_folder",
    "sequence_stem",
]

#: ``####`` (padding = number of #) or ``%04d`` / ``%d`` inside a file name.
_PATTERN = re.compile(r"#+|%0?(\d*)d")
#: ``NAME.NUMBER.EXT`` (NAME may hold dots; the number is the last dot-separated field).
_NUMBERED = re.compile(r"^(?P<name>.+)\.(?P<number>\d+)\.(?P<ext>[^.]+)$")


@dataclass(frozen=True)
class NumberedSequence:
    """Frame files of a numbered sequence, in number order.

    Attributes
    ----------
    files : list of Path
        The frame files, sorted by number.
    numbers : list of int
        Each file's frame number (strictly increasing; gaps allowed).
    label : str
        How to name the sequence in messages (``shot_a.####.exr``).
    """

    files: list[Path]
    numbers: list[int]
    label: str


def is_pattern(path: str | os.PathLike[str]) -> bool:
    """True when the file name of ``path`` holds a frame-number pattern (``####`` or ``%04d``)."""
    return _PATTERN.search(Path(path).name) is not None


def _pattern_regex(name: str) -> tuple[re.Pattern[str], int]:
    """Regex matching the file names of a pattern, and its padding (0: none)."""
    found = list(_PATTERN.finditer(name))
    if len(found) != 1:
        raise OptionError(f"'{name}' holds {len(found)} frame-number patterns: give exactly one, "
                          "e.g. shot_a.####.exr or shot_a.%04d.exr")
    match = found[0]
    text = match.group(0)
    padding = len(text) if text.startswith("#") else int(match.group(1) or 0)
    regex = re.compile(re.escape(name[:match.start()]) + r"(\d+)" + re.escape(name[match.end():]) + r"$")
    return regex, padding


def pattern_files(path: str | os.PathLike[str]) -> NumberedSequence:
    """The files a pattern such as ``plates/shot_a.####.exr`` names, in number order.

    Parameters
    ----------
    path : str or os.PathLike
        Folder plus a file name with one ``#`` run (one ``#`` per digit of padding) or one
        printf field (``%04d``, ``%d``). A number with more digits than the padding matches
        when it has no leading zero (``####`` matches ``1001`` and ``12345``, not ``01001``).

    Returns
    -------
    NumberedSequence

    Raises
    ------
    InputError
        The folder does not exist or no file matches.
    OptionError
        The name holds no pattern, or more than one.
    """
    path = Path(path)
    regex, padding = _pattern_regex(path.name)
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"cannot read '{path}': folder '{folder}' not found; check the path")
    found: list[tuple[int, Path]] = []
    for entry in folder.iterdir():
        match = regex.match(entry.name)
        if match is None or not entry.is_file():
            continue
        digits = match.group(1)
        if f"{int(digits):0{padding}d}" == digits:
            found.append((int(digits), entry))
    if not found:
        raise InputError(f"no frames match '{path.name}' in '{folder}': check the name and the "
                         "padding (#### = 4 digits, e.g. shot_a.1001.exr)")
    found.sort()
    numbers = [n for n, _ in found]
    if len(set(numbers)) != len(numbers):
        raise InputError(f"'{path}' matches two files of one frame number; keep one of them")
    return NumberedSequence([p for _, p in found], numbers, path.name)


def numbered_folder(files: list[Path]) -> NumberedSequence | None:
    """The numbers of a folder's frame files when all are ``NAME.NUMBER.EXT`` of one NAME and EXT.

    Parameters
    ----------
    files : list of Path
        The folder's frame files (any order).

    Returns
    -------
    NumberedSequence or None
        Files in number order with their numbers; None when the folder is not one such
        sequence (other names, several names or extensions, or one number twice).
    """
    parsed = [_NUMBERED.match(p.name) for p in files]
    if not files or any(m is None for m in parsed):
        return None
    if len({(m["name"], m["ext"]) for m in parsed}) != 1:
        return None
    pairs = sorted((int(m["number"]), p) for m, p in zip(parsed, files, strict=True))
    numbers = [n for n, _ in pairs]
    if len(set(numbers)) != len(numbers):
        return None
    first = parsed[0]
    width = len(first["number"])
    return NumberedSequence([p for _, p in pairs], numbers, f"{first['name']}.{'#' * width}.{first['ext']}")


def sequence_folder(path: str | os.PathLike[str]) -> Path:
    """The folder that holds a SOURCE's frames: the pattern's folder, else ``path`` itself."""
    path = Path(path)
    return path.parent if is_pattern(path) else path


def sequence_stem(path: str | os.PathLike[str]) -> str:
    """A SOURCE's name for output files: ``shot_a`` for ``shot_a.####.exr``, the stem of a video,
    the name of a folder."""
    path = Path(path)
    if is_pattern(path):
        stem = path.name[:_PATTERN.search(path.name).start()].rstrip("._- ")
        return stem or path.parent.name
    return path.stem if path.is_file() else path.name


def positions_for_numbers(numbers: list[int], start: int | None, end: int | None,
                          label: str) -> tuple[int, int | None]:
    """0-based ``[start, end)`` positions of the frames numbered ``start`` … ``end`` (inclusive).

    Parameters
    ----------
    numbers : list of int
        Frame numbers of the sequence, increasing.
    start, end : int or None
        First and last frame number wanted; None: from the first / to the last. A number
        that falls in a gap starts at the next frame (``start``) or ends at the previous one
        (``end``); an ``end`` after the last frame ends at the last one.
    label : str
        The sequence's name for messages.

    Returns
    -------
    tuple
        ``(start_position, end_position)`` for :class:`vidstyle.frames.FrameSelection`
        (end exclusive, None: to the end).

    Raises
    ------
    OptionError
        ``start`` outside the sequence, ``end`` before the first frame, or no frame between them.
    """
    first, last = numbers[0], numbers[-1]
    where = f"{label} holds frames {first}–{last} (--start/--end are its frame numbers)"
    lo = 0
    if start is not None:
        if start < first:
            raise OptionError(f"--start {start} is before the first frame: {where}")
        if start > last:
            raise OptionError(f"--start {start} is after the last frame: {where}")
        lo = next(k for k, n in enumerate(numbers) if n >= start)
    hi = None
    if end is not None:
        if end < first:
            raise OptionError(f"--end {end} is before the first frame: {where}")
        hi = max(k for k, n in enumerate(numbers) if n <= end) + 1
        if hi <= lo:
            raise OptionError(f"no frame between --start {start} and --end {end}: {where}")
    return lo, hi
