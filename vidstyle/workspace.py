"""The output folder of a video job: layout, settings manifest, resume state, frame log.

Layout of ``OUTDIR``::

    settings.json        every setting + input identity; guards resume against mixing
    input/               selected input frames at working size (frame_00001.png …)
    flow/                flows + reliability maps (artistic-videos names)
    pass01/ pass02/ …    multi-pass intermediates (multi-pass runs only)
    stylized/            working-size results (frame_00001.png …, 16-bit) when frames/ holds
                         another size, format or alpha (they are made from these)
    frames/              final stylized frames: the plates' names for a numbered sequence
                         (shot_a.1001.png …), else frame_00001.png …
    labels/              per-frame labels/regions of --photoreal/--region runs
    log.jsonl            one JSON line per finished frame (iterations, losses, seconds)
    <name>.mp4           the encoded video

A frame file exists only once it is finished (atomic writes), so resuming means
skipping the frames that exist. Only ``frames/`` (and the video) carry the plates' names;
the folders vidstyle reads back itself (input/, flow/, passNN/, stylized/, labels/) are
numbered by position in the selection, 1-based. settings.json records the names.

The folder may also hold the user's own files (e.g. masks made with ``vidstyle masks -o
OUTDIR/masks``): only the names above are ever written or deleted, and
:func:`check_overlaps` refuses a job whose inputs lie inside them.
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
NOTES_KEY = "notes"  # settings.json entries kept for the user, not compared on resume
LOG_FILE = "log.jsonl"
FRAME_PATTERN = "frame_{:05d}.png"
#: Everything vidstyle writes in an output folder besides pass01/… and the encoded video.
GENERATED = ("frames", "input", "flow", "labels", "stylized", "settings.json", "log.jsonl", "done.json")
GENERATED_FOLDERS = ("frames", "input", "flow", "labels", "stylized")
#: settings.json key of the output description (names, format, size) of plate jobs.
OUTPUT_KEY = "output"


@dataclass(frozen=True)
class Workspace:
    """Paths inside one job's output folder.

    Attributes
    ----------
    root : Path
        The output folder.
    names : tuple of str or None
        File names of the frames in ``frames/`` (the plates' names); None: frame_00001.png ….
    staged : bool
        Results are rendered into ``stylized/`` and written to ``frames/`` by
        :mod:`vidstyle.delivery` (another size, format, bit depth or alpha).
    """

    root: Path
    names: tuple[str, ...] | None = None
    staged: bool = False

    @classmethod
    def of(cls, root: Path) -> Workspace:
        """The workspace of an existing output folder, names and staging as its settings.json records."""
        ws = cls(Path(root))
        output = (ws.recorded_settings() or {}).get(OUTPUT_KEY)
        if not isinstance(output, dict):
            return ws
        names = output.get("names")
        return cls(ws.root, tuple(names) if isinstance(names, list) else None, bool(output.get("staged")))

    def recorded_numbers(self) -> list[int] | None:
        """Frame numbers of the selected frames as recorded in settings.json (plate jobs), or None."""
        output = (self.recorded_settings() or {}).get(OUTPUT_KEY)
        numbers = output.get("numbers") if isinstance(output, dict) else None
        return numbers if isinstance(numbers, list) else None

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def flow_dir(self) -> Path:
        return self.root / "flow"

    @property
    def frames_dir(self) -> Path:
        return self.root / "frames"

    @property
    def stylized_dir(self) -> Path:
        """Working-size results of a staged job (:attr:`staged`)."""
        return self.root / "stylized"

    @property
    def results_dir(self) -> Path:
        """Where the renderer writes the final working-size results: ``stylized/`` or ``frames/``."""
        return self.stylized_dir if self.staged else self.frames_dir

    @property
    def labels_dir(self) -> Path:
        """Per-frame labels and regions of a --photoreal/--region job."""
        return self.root / "labels"

    def generated_folders(self) -> list[Path]:
        """Folders whose content vidstyle may delete (on --overwrite or new settings)."""
        return [self.root / name for name in GENERATED_FOLDERS] + sorted(self.root.glob("pass[0-9][0-9]"))

    def pass_dir(self, number: int) -> Path:
        return self.root / f"pass{number:02d}"

    def frame_path(self, folder: Path, index: int) -> Path:
        """Frame file for 0-based ``index``: the plate's name in ``frames/`` when :attr:`names`
        are set, else ``frame_00001.png`` … (1-based)."""
        if self.names is not None and folder == self.frames_dir:
            return folder / self.names[index]
        return folder / FRAME_PATTERN.format(index + 1)

    # ---- settings manifest ----------------------------------------------------------
    def recorded_settings(self) -> dict[str, Any] | None:
        """The settings.json of an earlier run here, or None (absent or unreadable)."""
        try:
            return json.loads((self.root / SETTINGS_FILE).read_text())
        except (OSError, ValueError):
            return None

    def recorded_precision(self) -> str | None:
        """The precision an earlier run here computed in, or None."""
        recorded = self.recorded_settings() or {}
        precision = recorded.get("config", {}).get("net", {}).get("precision")
        return precision if isinstance(precision, str) else None

    def claim(self, settings: dict[str, Any], *, overwrite: bool, notes: dict[str, Any] | None = None) -> bool:
        """Bind the folder to ``settings``; returns True when resuming earlier work.

        Raises :class:`OutputError` when the folder holds results of other settings,
        unless ``overwrite`` (then earlier results are deleted first). ``notes`` (e.g. why
        a precision was chosen) are stored beside the settings but not compared.
        """
        prepare_output_dir(self.root)
        settings = json.loads(json.dumps(settings, default=str))  # tuples → lists, as stored
        path = self.root / SETTINGS_FILE
        previous = None
        if path.is_file():
            try:
                previous = json.loads(path.read_text())
                previous.pop(NOTES_KEY, None)
            except (OSError, ValueError, AttributeError):
                previous = {"unreadable": True}
        if previous is not None and previous != settings:
            if not overwrite:
                changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
                raise OutputError(f"{self.root} holds results made with other settings "
                                  f"({', '.join(changed)} differ): rerun the original command to resume, "
                                  "choose another -o, or add --overwrite to start over")
            self.clear()
        elif previous is None and (busy := self._unclaimed_results()):
            # Not a vidstyle job folder (no settings.json): these may be the user's files.
            raise OutputError(f"{busy} holds files vidstyle did not make here (no {SETTINGS_FILE}): "
                              "choose another -o, or move that folder away")
        prepare_output_dir(self.root)
        stored = {**settings, NOTES_KEY: notes} if notes else settings
        write_atomic(path, (json.dumps(stored, indent=2, sort_keys=True, default=str) + "\n").encode())
        self.sweep()
        return previous == settings

    def sweep(self) -> None:
        """Delete temp files a killed run left in the folders vidstyle writes (only ours, only stale)."""
        from flow.io import sweep_temp_files

        for folder in (self.root, *self.generated_folders(), self.labels_dir / "labels", self.labels_dir / "region"):
            sweep_temp_files(folder)

    def _unclaimed_results(self) -> Path | None:
        for folder in self.generated_folders():
            if folder.is_dir() and any(folder.iterdir()):
                return folder
        return None

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


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_overlaps(output: Path, inputs: dict[str, Path | None], *, video_name: str | None = None) -> None:
    """Refuse a job whose inputs lie where vidstyle writes or deletes in ``output``.

    The output folder may sit inside an input folder (a frame folder is read without its
    subfolders), but no input may be the output folder itself or lie in one of its
    generated folders or files. ``--flow-dir OUTPUT/flow`` is allowed: it is the job's own.

    Parameters
    ----------
    output : Path
        The job's output folder.
    inputs : dict
        What the user gave, by option name ("SOURCE", "STYLE", "--init", "--flow-dir",
        "--content-masks", …); None values are skipped.
    video_name : str, optional
        File name of the encoded video inside ``output``.

    Raises
    ------
    OutputError
        One line naming the option, the path and what to do.
    """
    root = output.resolve()
    generated = [root / name for name in (*GENERATED_FOLDERS, *GENERATED[len(GENERATED_FOLDERS):])]
    if video_name:
        generated.append(root / video_name)
    for option, path in inputs.items():
        if path is None:
            continue
        given = Path(path).resolve()
        if given == root:
            raise OutputError(f"-o {output} is the input folder given as {option}: choose another output folder")
        for target in generated + sorted(root.glob("pass[0-9][0-9]")):
            if option == "--flow-dir" and given == target == root / "flow":
                continue  # the job's own flow folder, named explicitly
            if _inside(given, target):
                raise OutputError(f"{option} {path} lies in {target.name}/ of the output folder, which vidstyle "
                                  f"writes and may delete: move it out of {output}, or choose another -o")


def default_cache_dir() -> Path:
    """Shared flow cache: $VIDSTYLE_CACHE or ~/.cache/vidstyle/flow."""
    if os.environ.get("VIDSTYLE_CACHE"):
        return Path(os.environ["VIDSTYLE_CACHE"]) / "flow"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidstyle" / "flow"
