"""Registers every subcommand on the ``vidstyle`` group."""

from vidstyle.cli import batch, flow, image, masks, presets, video  # noqa: F401
