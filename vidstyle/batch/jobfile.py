"""Batch job files: a TOML list of shots with shared defaults, validated as a whole.

A job file looks like this (every relative path resolves against the job file's folder)::

    output = "renders"            # batch folder: batch.json, report.html, one folder per shot
    cache_dir = "flow-cache"      # optional flow cache shared by the shots

    [defaults]                    # any shot key except name, input and output
    preset = "fast"
    style = "styles/candy.png"
    [defaults.overrides]          # preset keys: size, [optimizer], [loss], [style], [net], [video]
    size = 256

    [[shot]]
    name = "intro"                # folder name of the shot (default: the input's stem)
    input = "clips/intro.mp4"     # a video file, a folder of frames, or plates/shot_a.####.exr

    [[shot]]
    input = "clips/street"
    style = ["styles/a.png", "styles/b.png"]
    preset = "artistic"
    start = 10                    # first frame, like `vidstyle video --start` (1-based, or the
    end = 120                     # file numbers of a numbered sequence: 1001); last, inclusive
    every = 2
    fps = 24
    encode = true                 # false: frames only, no video (as codec = "none")
    codec = "prores"              # --codec: h264 (default, .mp4), prores or dnxhr (.mov)
    output = "elsewhere/street"   # default: <output>/<name>
    [shot.overrides.video]
    long_term = [1, 2, 4]

    [[shot]]                      # every `vidstyle video` option is a shot key too
    input = "clips/beach"
    iterations = 30               # --iterations 30
    photoreal = true              # --photoreal
    content_masks = "masks/beach" # --content-masks DIR|FILE|auto
    style_mask = "masks/style.png"
    region = "masks/sea.png"      # --region FILE|grabcut|auto:LABEL
    flow_dir = "flows/beach"      # --flow-dir
    long_term = [1, 2]            # --long-term 1,2

Settings of a shot are its preset (shot, else defaults, else ``fast`` as for
``vidstyle video``) overlaid with ``defaults.overrides``, the option keys of
[defaults], the shot's ``overrides`` and then its option keys (shot beats defaults; at
one level an option beats ``overrides``); override keys are exactly the preset keys
(``vidstyle presets show``), option keys the ``vidstyle video`` options
(:mod:`vidstyle.batch.options`). As with ``vidstyle video --iterations``, giving
``optimizer.iterations`` without ``optimizer.first_iterations`` sets both, and giving
``optimizer.pyramid`` without ``optimizer.pyramid_iterations`` drops the preset's
per-level budgets.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from vidstyle.batch.options import (
    job_fields,
    mask_options,
    option_names_as_keys,
    parse_options,
    plate_options,
    settings_layer,
    shot_options,
    single_pass_given,
)
from vidstyle.codecs import DEFAULT_CODEC, NO_VIDEO, check_frame_size
from vidstyle.config import BUILTIN_INITS, Config, build_config, builtin_presets, load_preset, merge, preset_problems
from vidstyle.errors import OptionError, VidstyleError
from vidstyle.frames import FrameSelection, frame_selection, is_numbered, open_frames, source_exists
from vidstyle.images import image_size
from vidstyle.plates import PlateOptions
from vidstyle.regions import MaskOptions
from vidstyle.sequences import is_pattern, pattern_files, sequence_stem

#: Preset used when neither the shot nor the defaults name one (as ``vidstyle video``).
DEFAULT_PRESET = "fast"
#: Batch folder when the job file gives no ``output`` (relative to the job file).
DEFAULT_OUTPUT = "renders"
TOP_KEYS = ("output", "cache_dir", "defaults", "shot")
#: Keys of a [[shot]] besides the ``vidstyle video`` options (:func:`vidstyle.batch.options.shot_options`).
SHOT_KEYS = ("name", "input", "style", "preset", "overrides", "output", "start", "end", "every", "fps", "encode")
DEFAULT_KEYS = tuple(k for k in SHOT_KEYS if k not in ("name", "input", "output"))
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class JobFileError(OptionError):
    """A job file has problems; ``problems`` lists every one of them.

    Attributes
    ----------
    path : Path
        The job file.
    problems : list of str
        One message per problem, each naming the shot and key it is about.
    """

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, list(problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{path}: {count}, fix them and rerun: " + "; ".join(problems))


@dataclass(frozen=True)
class Shot:
    """One shot of a batch, fully resolved (absolute paths, built Config).

    Attributes
    ----------
    name : str
        Unique name; also the default output folder name.
    source : Path
        Video file or folder of frames.
    styles : tuple of Path
        Style image(s).
    output : Path
        The shot's output folder (a :class:`vidstyle.workspace.Workspace`).
    config : Config
        Settings of the stylization.
    selection : FrameSelection
        Frames used (0-based, end exclusive).
    fps : float or None
        Frame rate override (folders default to 25).
    encode : bool
        Write a video after the frames.
    codec : str
        Its codec: "h264" (``NAME_stylized.mp4``), "prores" or "dnxhr" (``.mov``).
    frame_count : int
        Frames the selection yields (known from validation).
    masks : MaskOptions or None
        Segmentation masks / region (``content_masks``, ``style_mask``, ``auto_masks``,
        ``grabcut``, ``region``), as ``vidstyle video``'s mask options.
    flow_dir : Path or None
        ``--flow-dir``: flows made elsewhere, or kept here instead of ``output/flow``.
    cache_dir : Path or None
        The shot's flow cache (None: the job file's ``cache_dir``, else the default).
    cache_max_gb : float or None
        Cap of that cache (None: ``$VIDSTYLE_CACHE_MAX_GB`` or 10).
    no_cache : bool
        Neither read nor fill a flow cache.
    """

    name: str
    source: Path
    styles: tuple[Path, ...]
    output: Path
    config: Config
    selection: FrameSelection = field(default_factory=FrameSelection)
    fps: float | None = None
    encode: bool = True
    codec: str = DEFAULT_CODEC
    frame_count: int = 0
    masks: MaskOptions | None = None
    flow_dir: Path | None = None
    cache_dir: Path | None = None
    cache_max_gb: float | None = None
    no_cache: bool = False
    plate: PlateOptions = field(default_factory=PlateOptions)

    def key(self) -> str:
        """Hash of everything that determines the shot's results (checked on rerun).

        Input files are identified by path, size and modification time, style images
        by content, so an edited input or style makes a finished shot run again.
        """
        stamp = hashlib.sha256()
        if is_pattern(self.source):
            files = pattern_files(self.source).files
        else:
            files = sorted(self.source.iterdir()) if self.source.is_dir() else [self.source]
        for path in files:
            if path.is_file():
                stat = path.stat()
                stamp.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        styles = [hashlib.sha256(p.read_bytes()).hexdigest() for p in self.styles]
        text = json.dumps({"config": self.config.to_dict(), "source": str(self.source), "stamp": stamp.hexdigest(),
                           "styles": styles, "selection": [self.selection.start, self.selection.end,
                                                           self.selection.every],
                           "fps": self.fps, "encode": self.encode,
                           # only when given, so keys of shots without them stay as they were
                           **({"masks": self.masks.describe()} if self.masks else {}),  # mask files by content
                           **({"flow_dir": str(self.flow_dir)} if self.flow_dir else {}),
                           **({"codec": self.codec} if self.encode and self.codec != DEFAULT_CODEC else {}),
                           **({"plate": self.plate.describe()} if self.plate != PlateOptions() else {})},
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Batch:
    """A validated job file.

    Attributes
    ----------
    path : Path
        The job file.
    output : Path
        Batch folder (batch.json, report.html, default shot folders).
    shots : tuple of Shot
        In file order.
    cache_dir : Path or None
        Flow cache folder; None: the default cache (``$VIDSTYLE_CACHE`` or ~/.cache).
    """

    path: Path
    output: Path
    shots: tuple[Shot, ...]
    cache_dir: Path | None = None


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def _type_problem(where: str, key: str, value: Any, kinds: tuple[type, ...], what: str) -> str | None:
    if isinstance(value, bool) and bool not in kinds:
        return f"{where}: {key} must be {what}, got {value!r}"
    return None if isinstance(value, kinds) else f"{where}: {key} must be {what}, got {value!r}"


def _resolve_override_paths(base: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Make the path-valued settings (optimizer.init, net.weights) relative to the job file."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in overrides.items()}
    init = out.get("optimizer", {}).get("init")
    if isinstance(init, str) and init not in BUILTIN_INITS:
        out["optimizer"]["init"] = str(_resolve(base, init))
    weights = out.get("net", {}).get("weights")
    if isinstance(weights, str):
        out["net"]["weights"] = str(_resolve(base, weights))
    return out


def _settings(base: Path, preset: Any, layers: list[dict[str, Any]], where: str,
              problems: list[str]) -> Config | None:
    """Preset overlaid with the override tables, built into a Config (problems appended)."""
    if not isinstance(preset, str):
        problems.append(f"{where}: preset must be a name ({', '.join(builtin_presets())}) or a .toml path")
        return None
    if preset not in builtin_presets() and preset.endswith(".toml"):
        preset = str(_resolve(base, preset))
    try:
        values = load_preset(preset)
    except OptionError as exc:
        problems.append(f"{where}: {exc}")
        return None
    ok = True
    for layer in layers:
        for problem in preset_problems(layer):
            problems.append(f"{where}: overrides: {problem}")
            ok = False
    if not ok:
        return None
    optimizer = {}
    for layer in layers:
        optimizer.update(layer.get("optimizer", {}))
    for levels in ("pyramid", "frame_pyramid"):
        if levels in optimizer and f"{levels}_iterations" not in optimizer:
            # A preset's per-level budgets belong to its own pyramid depth (as the CLI).
            values.get("optimizer", {}).pop(f"{levels}_iterations", None)
    if "iterations" in optimizer and "first_iterations" not in optimizer:
        values.setdefault("optimizer", {})["first_iterations"] = optimizer["iterations"]
    for layer in layers:
        values = merge(values, _resolve_override_paths(base, layer))
    try:
        return build_config(values)
    except (VidstyleError, TypeError, ValueError) as exc:
        problems.append(f"{where}: settings: {option_names_as_keys(str(exc))}")
        return None


def _selection(entry: dict[str, Any], source: Path | None, where: str, problems: list[str]) -> FrameSelection | None:
    values = {}
    first = 0 if source is not None and is_numbered(source) else 1  # file numbers may start at 0
    for key, default, least in (("start", None, first), ("end", None, first), ("every", 1, 1)):
        value = entry.get(key, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            counting = "frame numbers of the sequence" if least == 0 else "frames count from 1"
            problems.append(f"{where}: {key} must be a whole number ≥ {least} ({counting}), got {value!r}")
            return None
        values[key] = value
    if source is None:
        return None
    try:  # inclusive frame numbers, as `vidstyle video --start/--end`
        return frame_selection(source, values["start"], values["end"], values["every"])
    except VidstyleError as exc:
        message = option_names_as_keys(str(exc)).replace("--start", "start").replace("--end", "end")
        problems.append(f"{where}: {message}")
        return None


def _check_table(table: Any, where: str, known: tuple[str, ...], problems: list[str], *,
                 options: bool = False) -> bool:
    """A table of known keys (``options``: also every ``vidstyle video`` option key)."""
    if not isinstance(table, dict):
        problems.append(f"{where} must be a table")
        return False
    option_keys = tuple(shot_options()) if options else ()
    for key in table:
        if key not in known and key not in option_keys:
            close = difflib.get_close_matches(key, known + option_keys, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            also = " or a `vidstyle video` option (see `vidstyle video --help`)" if options else ""
            problems.append(f"{where}: unknown key {key!r} ({hint}known: {', '.join(known)}{also})")
    return True


def _option_problems(values: dict[str, Any], config: Config | None, masks: MaskOptions | None,
                     frame_count: int, where: str) -> list[str]:
    """What ``vidstyle video`` would refuse about a shot's options, and missing mask files."""
    problems = []
    if config is not None and config.video.passes > 1 and (given := single_pass_given(values)):
        problems.append(f"{where}: {given[0]} applies to single-pass rendering (every multi-pass frame gets "
                        "iterations): drop it, or set passes = 1")
    if masks is None:
        return problems
    files = [("content_masks", masks.content_masks), ("style_mask", masks.style_mask)]
    if masks.region not in (None, "grabcut") and not masks.region.startswith("auto:"):
        files.append(("region", masks.region))
    for key, value in files:
        if value is None or value == "auto":
            continue
        path = Path(value)
        if not path.exists():
            problems.append(f"{where}: {key} {path} not found")
        elif path.is_file() and image_size(path) is None:
            problems.append(f"{where}: {key} {path} is not an image file OpenCV can read")
        elif path.is_dir() and key != "content_masks":
            problems.append(f"{where}: {key} {path} is a folder; give one mask image")
        elif path.is_dir() and frame_count and len(found := masks.content_mask_files()) != frame_count:
            problems.append(f"{where}: content_masks {path} holds {len(found)} masks for {frame_count} frames: "
                            "give one mask per selected frame (natural order), or one mask file for frame 1")
    return problems


def _shot(base: Path, batch_output: Path, index: int, entry: dict[str, Any], defaults: dict[str, Any],
          default_options: dict[str, Any], problems: list[str]) -> Shot | None:
    """Validate and resolve one [[shot]] table; append every problem found.

    ``default_options`` are the parsed ``vidstyle video`` options of [defaults].
    """
    before = len(problems)
    raw_name = entry.get("name")
    where = f"shot {index}" + (f" ({raw_name!r})" if isinstance(raw_name, str) else "")
    _check_table(entry, where, SHOT_KEYS, problems, options=True)
    values = {**defaults, **entry}
    shot_options = parse_options(entry, base, where, problems)
    options = {**default_options, **shot_options}

    source = None
    if "input" not in entry:
        problems.append(f"{where}: input is missing; give a video file or a folder of frames")
    elif (p := _type_problem(where, "input", entry["input"], (str,), "a path")) is not None:
        problems.append(p)
    else:
        source = _resolve(base, entry["input"])
        if not source_exists(source):
            problems.append(f"{where}: input {source} not found; give a video file or a folder of frames")
            source = None

    default_name = None if source is None else sequence_stem(source) if is_pattern(source) else source.stem
    name = raw_name if raw_name is not None else default_name
    if raw_name is not None and (not isinstance(raw_name, str) or not _NAME.match(raw_name)):
        problems.append(f"{where}: name must be letters, digits, '.', '_' or '-' (it names a folder), "
                        f"got {raw_name!r}")
        name = None

    styles: list[Path] = []
    style_value = values.get("style")
    if style_value is None:
        problems.append(f"{where}: style is missing; give style = \"image.png\" in the shot or in [defaults]")
    else:
        items = style_value if isinstance(style_value, list) else [style_value]
        if not items or not all(isinstance(s, str) for s in items):
            problems.append(f"{where}: style must be a path or a list of paths, got {style_value!r}")
        for item in items if all(isinstance(s, str) for s in items) else []:
            path = _resolve(base, item)
            if not path.is_file():
                problems.append(f"{where}: style image {path} not found")
            elif image_size(path) is None:
                problems.append(f"{where}: style image {path} is not an image file OpenCV can read")
            else:
                styles.append(path)

    layers = []  # defaults, then the shot; at each level its option keys after its overrides table
    for origin, table, level_options in (("defaults", defaults.get("overrides", {}), default_options),
                                         ("shot", entry.get("overrides", {}), shot_options)):
        if not isinstance(table, dict):
            problems.append(f"{where}: {origin} overrides must be a table of preset keys")
        else:
            layers.append(table)
        layers.append(settings_layer(level_options))
    config = _settings(base, values.get("preset", DEFAULT_PRESET), layers, where, problems)
    masks = None
    try:
        masks = mask_options(options)
    except OptionError as exc:
        problems.append(f"{where}: {option_names_as_keys(str(exc))}")
    selection = _selection(values, source, where, problems)
    try:
        plate = plate_options(options)
    except OptionError as exc:
        problems.append(f"{where}: {option_names_as_keys(str(exc))}")
        plate = PlateOptions()

    fps = values.get("fps")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0):
        problems.append(f"{where}: fps must be a positive number, got {fps!r}")
        fps = None
    encode = values.get("encode", True)
    if not isinstance(encode, bool):
        problems.append(f"{where}: encode must be true or false, got {encode!r}")
    fields = job_fields(options)
    if fields.get("codec") == NO_VIDEO:
        encode = False
        del fields["codec"]

    output = None
    if "output" in entry:
        if (p := _type_problem(where, "output", entry["output"], (str,), "a path")) is not None:
            problems.append(p)
        else:
            output = _resolve(base, entry["output"])
    elif name is not None:
        output = batch_output / name

    frame_count = 0
    if source is not None and selection is not None and config is not None:
        try:
            frames = open_frames(source, selection=selection, long_side=config.size, fps=float(fps) if fps else None,
                                 plate=plate)
            frame_count = len(frames)
        except VidstyleError as exc:
            problems.append(f"{where}: {exc}")
        else:
            if frame_count == 0:
                problems.append(f"{where}: the selection holds no frames; check start/end/every")
            try:
                if encode is True:
                    check_frame_size(fields.get("codec", DEFAULT_CODEC), frames.frame_size)
            except OptionError as exc:
                problems.append(f"{where}: {option_names_as_keys(str(exc))}")
    problems.extend(_option_problems(options, config, masks, frame_count, where))
    if len(problems) > before or name is None or output is None or config is None or source is None:
        return None
    return Shot(name=name, source=source.resolve(), styles=tuple(p.resolve() for p in styles),
                output=output.resolve(), config=config, selection=selection,
                fps=float(fps) if fps else None, encode=encode, frame_count=frame_count, masks=masks,
                plate=plate, **fields)


def _checked_defaults(base: Path, defaults: dict[str, Any],
                      problems: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Report problems of [defaults] settings once (not per shot); drop the bad ones.

    Returns the table and its parsed ``vidstyle video`` options.
    """
    defaults = dict(defaults)
    options = parse_options(defaults, base, "[defaults]", problems)
    overrides = defaults.get("overrides", {})
    if not isinstance(overrides, dict):
        problems.append("[defaults]: overrides must be a table of preset keys")
        defaults.pop("overrides")
    elif found := preset_problems(overrides):
        problems.extend(f"[defaults]: overrides: {p}" for p in found)
        defaults.pop("overrides")
    if "preset" in defaults:
        before = len(problems)
        _settings(base, defaults["preset"], [], "[defaults]", problems)
        if len(problems) > before:
            defaults.pop("preset")
    return defaults, options


def load_jobfile(path: str | Path, *, output: Path | None = None) -> Batch:
    """Read and validate a job file; every problem is collected before raising.

    Parameters
    ----------
    path : str or Path
        The TOML job file.
    output : Path, optional
        Batch folder overriding the file's ``output`` (e.g. ``vidstyle batch -o``).

    Returns
    -------
    Batch
        Shots with absolute paths and built configs.

    Raises
    ------
    JobFileError
        Unreadable file, invalid TOML, or any problem in any shot (all of them listed).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobFileError(path, ["job file not found; check the path"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFileError(path, [f"cannot read the job file ({exc})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise JobFileError(path, [f"not valid TOML ({exc})"]) from None
    base = path.resolve().parent
    problems: list[str] = []
    _check_table(data, "job file", TOP_KEYS, problems)

    batch_output = output
    if batch_output is None:
        value = data.get("output", DEFAULT_OUTPUT)
        if not isinstance(value, str):
            problems.append(f"job file: output must be a folder path, got {value!r}")
            value = DEFAULT_OUTPUT
        batch_output = _resolve(base, value)
    batch_output = batch_output.resolve()
    cache_dir = data.get("cache_dir")
    if cache_dir is not None and not isinstance(cache_dir, str):
        problems.append(f"job file: cache_dir must be a folder path, got {cache_dir!r}")
        cache_dir = None

    defaults = data.get("defaults", {})
    if not _check_table(defaults, "[defaults]", DEFAULT_KEYS, problems, options=True):
        defaults = {}
    defaults, default_options = _checked_defaults(base, defaults, problems)
    entries = data.get("shot", [])
    if not isinstance(entries, list) or not entries:
        problems.append("job file: no shots; add at least one [[shot]] table with input = ...")
        entries = []

    shots = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            problems.append(f"shot {index} must be a [[shot]] table")
            continue
        shot = _shot(base, batch_output, index, entry, defaults, default_options, problems)
        if shot is not None:
            shots.append(shot)
    names: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if name is None and isinstance(entry, dict) and isinstance(entry.get("input"), str):
            name = Path(entry["input"]).stem
        if isinstance(name, str) and name in names:
            problems.append(f"shots {names[name]} and {index} share the name {name}; give each shot its own name")
        elif isinstance(name, str):
            names[name] = index
    outputs: dict[Path, str] = {}
    for shot in shots:
        if shot.output in outputs and outputs[shot.output] != shot.name:
            problems.append(f"shots {outputs[shot.output]!r} and {shot.name!r} share the output folder "
                            f"{shot.output}; give each shot its own output")
        outputs.setdefault(shot.output, shot.name)
    flow_dirs: dict[Path, str] = {}
    for shot in shots:  # one shot's flows would overwrite another's (same file names, other frames)
        if shot.flow_dir is not None and flow_dirs.setdefault(shot.flow_dir, shot.name) != shot.name:
            problems.append(f"shots {flow_dirs[shot.flow_dir]!r} and {shot.name!r} share the flow_dir "
                            f"{shot.flow_dir}; give each shot its own")
    if problems:
        raise JobFileError(path, problems)
    return Batch(path=path.resolve(), output=batch_output, shots=tuple(shots),
                 cache_dir=_resolve(base, cache_dir).resolve() if cache_dir else None)
