"""Turning CLI flags into a Config, shared by the stylizing commands."""

from __future__ import annotations

from typing import Any

from vidstyle.cli.options import overrides_from
from vidstyle.config import Config, build_config, load_preset, merge


def config_from_flags(kwargs: dict[str, Any], *, default_preset: str | None = None,
                      extra: dict[str, Any] | None = None) -> Config:
    """Preset (``--preset`` or the default) overlaid with the flags the user gave."""
    preset = load_preset(kwargs.pop("preset", None) or default_preset)
    overrides = overrides_from(kwargs)
    optimizer = overrides.get("optimizer", {})
    if optimizer.get("pyramid") is not None and optimizer.get("pyramid_iterations") is None:
        # A preset's per-level budgets belong to its own pyramid depth, not to --pyramid.
        preset.get("optimizer", {}).pop("pyramid_iterations", None)
    return build_config(merge(merge(preset, overrides), extra or {}))
