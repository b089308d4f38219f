"""Registers every subcommand on the ``vidstyle`` group."""

from vidstyle.cli import image, presets, video  # noqa: F401
