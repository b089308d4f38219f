"""Registers every subcommand on the ``vidstyle`` group."""

from vidstyle.cli import image, presets  # noqa: F401
