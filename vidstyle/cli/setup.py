"""Turning CLI flags into a Config, shared by the stylizing commands."""

from __future__ import annotations

from typing import Any

from vidstyle.cli.options import overrides_from
from vidstyle.config import Config, build_config, load_preset, merge


def config_from_flags(kwargs: dict[str, Any], *, default_preset: str | None = None,
                      extra: dict[str, Any] | None = None) -> Config:
    """Preset (``--preset`` or the default) overlaid with the flags the user gave."""
    preset = load_preset(kwargs.pop("preset", None) or default_preset)
    overrides = merge(overrides_from(kwargs), extra or {})
    optimizer = overrides.get("optimizer", {})
    for levels in ("pyramid", "frame_pyramid"):
        if optimizer.get(levels) is not None and optimizer.get(f"{levels}_iterations") is None:
            # A preset's per-level budgets belong to its own pyramid depth, not to --pyramid.
            preset.get("optimizer", {}).pop(f"{levels}_iterations", None)
    return build_config(merge(preset, overrides))
