"""The output folder of a video job: layout, settings manifest, resume state, frame log.

Layout of ``OUTDIR``::

    settings.json        every setting + input identity; guards resume against mixing
    input/               selected input frames at working size (frame_00001.png …)
    flow/                flows + reliability maps (artistic-videos names)
    pass01/ pass02/ …    multi-pass intermediates (multi-pass runs only)
    frames/              final stylized frames (frame_00001.png …)
    masks/               per-frame labels/regions of --photoreal/--region runs
    log.jsonl            one JSON line per finished frame (iterations, losses, seconds)
    <name>.mp4           the encoded video

A frame file exists only once it is finished (atomic writes), so resuming means
skipping the frames that exist.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidstyle.errors import OutputError
from vidstyle.images import output_error, prepare_output_dir, write_atomic

SETTINGS_FILE = "settings.json"
LOG_FILE = "log.jsonl"
FRAME_PATTERN = "frame_{:05d}.png"
GENERATED = ("frames", "input", "flow", "masks", "settings.json", "log.jsonl", "done.json")


@dataclass(frozen=True)
class Workspace:
    """Paths inside one job's output folder."""

    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def flow_dir(self) -> Path:
        return self.root / "flow"

    @property
    def frames_dir(self) -> Path:
        return self.root / "frames"

    def pass_dir(self, number: int) -> Path:
        return self.root / f"pass{number:02d}"

    def frame_path(self, folder: Path, index: int) -> Path:
        """Frame file for 0-based ``index`` (1-based in the name)."""
        return folder / FRAME_PATTERN.format(index + 1)

    # ---- settings manifest ----------------------------------------------------------
    def claim(self, settings: dict[str, Any], *, overwrite: bool) -> bool:
        """Bind the folder to ``settings``; returns True when resuming earlier work.

        Raises :class:`OutputError` when the folder holds results of other settings,
        unless ``overwrite`` (then earlier results are deleted first).
        """
        prepare_output_dir(self.root)
        settings = json.loads(json.dumps(settings, default=str))  # tuples → lists, as stored
        path = self.root / SETTINGS_FILE
        previous = None
        if path.is_file():
            try:
                previous = json.loads(path.read_text())
            except (OSError, ValueError):
                previous = {"unreadable": True}
        if previous is not None and previous != settings:
            if not overwrite:
                changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
                raise OutputError(f"{self.root} holds results made with other settings "
                                  f"({', '.join(changed)} differ): rerun the original command to resume, "
                                  "choose another -o, or add --overwrite to start over")
            self.clear()
        elif previous is None and self.frames_dir.is_dir() and any(self.frames_dir.iterdir()):
            if not overwrite:
                raise OutputError(f"{self.frames_dir} holds frames of unknown origin: "
                                  "choose another -o or add --overwrite")
            self.clear()
        prepare_output_dir(self.root)
        write_atomic(path, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode())
        return previous == settings

    def clear(self) -> None:
        """Delete everything this tool generated in the folder (not the user's files)."""
        for name in GENERATED:
            target = self.root / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for folder in self.root.glob("pass[0-9][0-9]"):
            shutil.rmtree(folder)

    # ---- log ------------------------------------------------------------------------
    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to log.jsonl (frame, pass, iterations, losses, seconds)."""
        line = json.dumps({"time": round(time.time(), 3), **record}, sort_keys=True)
        try:
            with open(self.root / LOG_FILE, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise output_error(self.root / LOG_FILE, exc) from None

    def read_log(self) -> list[dict[str, Any]]:
        path = self.root / LOG_FILE
        if not path.is_file():
            return []
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
        return records


def check_not_inside(output: Path, source: Path) -> None:
    """Refuse an output folder that is the input folder (results would become inputs)."""
    if source.is_dir() and output.resolve() == source.resolve():
        raise OutputError(f"-o {output} is the input folder: choose another output folder")


def default_cache_dir() -> Path:
    """Shared flow cache: $VIDSTYLE_CACHE or ~/.cache/vidstyle/flow."""
    if os.environ.get("VIDSTYLE_CACHE"):
        return Path(os.environ["VIDSTYLE_CACHE"]) / "flow"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidstyle" / "flow"
