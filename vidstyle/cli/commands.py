"""Registers every subcommand on the ``vidstyle`` group."""

from vidstyle.cli import batch, image, presets, video  # noqa: F401
