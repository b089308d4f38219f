"""``vidstyle presets``: list built-in presets and show every value of one."""

from __future__ import annotations

import click

from vidstyle.cli import cli
from vidstyle.config import build_config, builtin_presets, load_preset, to_toml


@cli.group("presets")
def presets_group() -> None:
    """List and inspect presets (built-in names or .toml files)."""


@presets_group.command("list")
def presets_list() -> None:
    """Print the built-in preset names."""
    for name in builtin_presets():
        click.echo(name)


@presets_group.command("show")
@click.argument("name")
def presets_show(name: str) -> None:
    """Print every setting NAME resolves to (preset values over built-in defaults), as TOML.

    \b
    Example:
      vidstyle presets show fast
    """
    click.echo(to_toml(build_config(load_preset(name)).to_dict()))
