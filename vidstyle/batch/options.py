"""Shot keys that are ``vidstyle video`` options: one schema for the command and job files.

Every option of ``vidstyle video`` is a key of a ``[[shot]]`` or ``[defaults]`` table,
named as the option without dashes (``--long-term`` → ``long_term``, ``--photoreal`` /
``--no-photoreal`` → ``photoreal = true/false``, ``--auto-masks`` → ``auto_masks``), except
the few the batch sets itself (:data:`NOT_SHOT_KEYS`). The keys are read off the command
(:func:`shot_options`), each value is checked by that option's own click type and callback
(a job file accepts what the command line accepts, with the same messages), and values
become settings through the helpers the command uses (``overrides_from``,
``photoreal_from_flags``) plus :data:`VIDEO_SETTINGS`, the mapping of the command body.
A ``vidstyle video`` option without a place here fails :func:`shot_options` (and its test).

Lists may be written as TOML lists (``long_term = [1, 2, 4]``, ``grabcut = [40, 30, 120,
90]``) or as on the command line (``"1,2,4"``); relative paths resolve against the job
file's folder.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import click

#: ``vidstyle video`` options that are not option keys of a shot: (reason shown in docs).
NOT_SHOT_KEYS: dict[str, str] = {
    "output": "shot key `output` (default: <batch folder>/<name>)",
    "start": "shot key `start` (same meaning)",
    "end": "shot key `end` (same meaning)",
    "every": "shot key `every` (same meaning)",
    "fps": "shot key `fps` (same meaning)",
    "preset": "shot key `preset` (same meaning)",
    "no_video": "shot key `encode = false`",
    "jobs": "flow runs as Dask tasks, one pair chunk each (`vidstyle batch --flow-chunk`)",
    "overwrite": "`vidstyle batch --overwrite`",
    "device": "`vidstyle batch --device`",
    "preview": "`vidstyle batch --preview`",
    "preview_frames": "`vidstyle batch --preview-frames`",
}
#: Options of the ``vidstyle video`` command body → (preset section, key), as that body maps them.
VIDEO_SETTINGS: dict[str, tuple[str, str]] = {
    "first_iterations": ("optimizer", "first_iterations"),
    "frame_stop_tolerance": ("optimizer", "frame_tolerance"),
    "frame_stop_window": ("optimizer", "frame_window"),
    "frame_pyramid": ("optimizer", "frame_pyramid"),
    "frame_pyramid_iterations": ("optimizer", "frame_pyramid_iterations"),
    "passes": ("video", "passes"),
    "multipass_temporal_from": ("video", "multipass_temporal_from"),
    "long_term": ("video", "long_term"),
    "flow_method": ("video", "flow_method"),
    "crf": ("video", "crf"),
}
#: Options that apply to single-pass rendering only (the command refuses them with passes > 1).
SINGLE_PASS = ("first_iterations", "frame_stop_tolerance", "frame_stop_window", "frame_pyramid",
               "frame_pyramid_iterations")
#: Mask options (click parameter name) → :class:`vidstyle.regions.MaskOptions` field.
MASK_FIELDS = {"content_masks": "content_masks", "style_mask": "style_mask", "auto_k": "auto_k",
               "grabcut_rect": "grabcut", "region": "region"}
#: Options that are fields of :class:`vidstyle.video.VideoJob` (the flow folder and cache, the codec;
#: ``codec = "none"`` is ``encode = false``).
JOB_FIELDS = ("flow_dir", "cache_dir", "cache_max_gb", "no_cache", "codec")
#: Options that are fields of :class:`vidstyle.plates.PlateOptions` (output format and size, transfer, alpha).
PLATE_FIELDS = ("output_format", "output_size", "input_transfer", "alpha", "alpha_mask")
#: Special (non-path) values of path-like options.
_NOT_PATHS = {"content_masks": ("auto",), "region": ("grabcut",)}


def option_key(param: click.Parameter) -> str:
    """Job-file key of a click option: its long name without dashes (``--long-term`` → ``long_term``)."""
    name = max((o for o in param.opts if o.startswith("--")), key=len, default=param.opts[0])
    return name.lstrip("-").replace("-", "_")


@functools.cache
def shot_options() -> dict[str, click.Option]:
    """Job-file key → option of ``vidstyle video``, for every option that is a shot key.

    Raises
    ------
    RuntimeError
        ``vidstyle video`` has an option this module gives no place (a programming error).
    """
    from vidstyle.cli.options import STYLE_FLAGS
    from vidstyle.cli.photoreal_options import PHOTOREAL_FLAGS
    from vidstyle.cli.video import video_command

    placed = ({key for _, _, key, _ in STYLE_FLAGS} | {f"photoreal_{key}" for _, key, _ in PHOTOREAL_FLAGS}
              | set(VIDEO_SETTINGS) | set(MASK_FIELDS) | set(JOB_FIELDS) | set(PLATE_FIELDS))
    options = {}
    for param in video_command.params:
        if not isinstance(param, click.Option) or param.name in NOT_SHOT_KEYS:
            continue
        if param.name not in placed:
            raise RuntimeError(f"vidstyle video {param.opts[0]} has no place in job files: add it to "
                               "vidstyle.batch.options (a setting, a job field, or NOT_SHOT_KEYS)")
        options[option_key(param)] = param
    return options


def _lists_allowed(param: click.Option) -> bool:
    """Options parsed from "a,b,c" by a callback (int_list, --grabcut …) take TOML lists too."""
    return param.callback is not None and isinstance(param.type, click.types.StringParamType)


def _resolved(param: click.Option, value: str, base: Path) -> str:
    if param.name in _NOT_PATHS and (value in _NOT_PATHS[param.name] or value.startswith("auto:")):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def parse_options(table: dict[str, Any], base: Path, where: str, problems: list[str]) -> dict[str, Any]:
    """The ``vidstyle video`` options of a shot or [defaults] table, as the command's kwargs.

    Returns ``{click parameter name: value}`` for the option keys present and valid; every
    invalid value appends a problem naming ``where`` and the key.
    """
    options = shot_options()
    ctx = click.Context(click.Command("video"), info_name="video")
    values: dict[str, Any] = {}
    for key, raw in table.items():
        param = options.get(key)
        if param is None:
            continue
        value = raw
        if param.is_flag:
            if not isinstance(value, bool):
                problems.append(f"{where}: {key} must be true or false, got {raw!r}")
                continue
        elif isinstance(value, bool) or isinstance(value, dict):
            problems.append(f"{where}: {key} must be {'a list or ' if _lists_allowed(param) else ''}"
                            f"a single value, got {raw!r}")
            continue
        elif isinstance(value, list):
            if not _lists_allowed(param) or any(isinstance(v, (bool, list, dict)) for v in value):
                problems.append(f"{where}: {key} takes one value, not a list: got {raw!r}")
                continue
            value = ",".join(str(v) for v in value)
        if isinstance(value, str) and (isinstance(param.type, click.Path) or param.name in _NOT_PATHS):
            value = _resolved(param, value, base)
        try:
            value = param.type_cast_value(ctx, value)
            if param.callback is not None:
                value = param.callback(ctx, param, value)
        except click.BadParameter as exc:
            problems.append(f"{where}: {key}: {option_names_as_keys(exc.message)}")
            continue
        values[param.name] = value
    return values


def settings_layer(values: dict[str, Any]) -> dict[str, Any]:
    """Preset overrides (nested dict, no None values) of parsed options, as ``vidstyle video`` makes them."""
    from vidstyle.cli.options import overrides_from
    from vidstyle.cli.photoreal_options import photoreal_from_flags

    kwargs = {k: v for k, v in values.items() if k not in MASK_FIELDS}  # masks are merged per shot
    layer = overrides_from(kwargs)
    layer["photoreal"], _ = photoreal_from_flags(kwargs)
    for name, (section, key) in VIDEO_SETTINGS.items():
        layer.setdefault(section, {})[key] = kwargs.get(name)
    out: dict[str, Any] = {}
    for key, value in layer.items():
        if isinstance(value, dict):
            value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items() if v is not None}
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def mask_options(values: dict[str, Any]) -> Any:
    """:class:`vidstyle.regions.MaskOptions` of parsed options, or None when none is given.

    Raises
    ------
    OptionError
        The combination is impossible (as ``vidstyle video`` says it).
    """
    from vidstyle.regions import MaskOptions

    given = {field: values[name] for name, field in MASK_FIELDS.items() if values.get(name) is not None}
    return MaskOptions(**given) if given else None


def plate_options(values: dict[str, Any]) -> Any:
    """:class:`vidstyle.plates.PlateOptions` of parsed options (defaults for those not given)."""
    from vidstyle.plates import PlateOptions

    return PlateOptions(**{name: values[name] for name in PLATE_FIELDS if values.get(name) is not None})


def job_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The :class:`vidstyle.video.VideoJob` fields among parsed options (flow folder, cache, codec)."""
    out = {name: values[name] for name in JOB_FIELDS if values.get(name) is not None}
    for name in ("flow_dir", "cache_dir"):
        if name in out:
            out[name] = Path(out[name]).resolve()
    return out


def single_pass_given(values: dict[str, Any]) -> list[str]:
    """Keys of the single-pass-only options among parsed options."""
    keys = {param.name: key for key, param in shot_options().items()}
    return [keys[name] for name in SINGLE_PASS if values.get(name) is not None]


_FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def option_names_as_keys(message: str) -> str:
    """A ``vidstyle video`` message with its option names written as job-file keys
    (``--style-mask needs --content-masks`` → ``style_mask needs content_masks``)."""
    keys = {}
    for key, param in shot_options().items():
        keys.update({flag: key for flag in param.opts})
        keys.update({flag: f"{key} = false" for flag in param.secondary_opts})
    return _FLAG.sub(lambda m: keys.get(m.group(0), m.group(0)), message)
