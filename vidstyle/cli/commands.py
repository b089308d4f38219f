"""Registers every subcommand on the ``vidstyle`` group."""

from vidstyle.cli import batch, cache, flow, image, masks, presets, video  # noqa: F401
