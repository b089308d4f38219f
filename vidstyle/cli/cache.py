"""``vidstyle cache``: what the flow cache holds, and emptying it."""

from __future__ import annotations

from pathlib import Path

import click

from vidstyle.cli import cli

BYTES_PER_GB = 1e9


no_cache_option = click.option("--no-cache", is_flag=True, help="Neither read nor fill the flow cache.")
cache_max_gb_option = click.option(
    "--cache-max-gb", type=click.FloatRange(0), default=None,
    help="Flow cache cap in GB; least recently used pairs go first (default $VIDSTYLE_CACHE_MAX_GB or 10).")


def _size(size: float) -> str:
    return f"{size / BYTES_PER_GB:.2f} GB" if size >= BYTES_PER_GB / 10 else f"{size / 1e6:.1f} MB"


def _cache(cache_dir: Path | None):
    from flow.cache import FlowCache
    from vidstyle.workspace import default_cache_dir

    return FlowCache(cache_dir or default_cache_dir())


cache_dir_option = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Flow cache folder (default $VIDSTYLE_CACHE/flow or ~/.cache/vidstyle/flow).")


@cli.group("cache")
def cache_group() -> None:
    """Inspect or empty the flow cache.

    \b
    Examples:
      vidstyle cache info
      vidstyle cache clear --cache-dir /shared/flow-cache
    """


@cache_group.command("info")
@cache_dir_option
def cache_info(cache_dir: Path | None) -> None:
    """Where the flow cache is, how many frame pairs it holds, their size and the cap."""
    info = _cache(cache_dir).info()
    click.echo(f"path: {info.path}\nentries: {info.entries}\nsize: {_size(info.size)}\n"
               f"cap: {_size(info.max_bytes)} (--cache-max-gb or $VIDSTYLE_CACHE_MAX_GB)")


@cache_group.command("clear")
@cache_dir_option
def cache_clear(cache_dir: Path | None) -> None:
    """Delete every cache entry vidstyle made (other files in the folder stay)."""
    cache = _cache(cache_dir)
    entries, size = cache.clear()
    click.echo(f"removed {entries} entries ({_size(size)}) from {cache.root}")
