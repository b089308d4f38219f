"""Errors the user can fix.

Every exception here carries a message that says what to do; the CLI prints it on one
line and exits with status 2. Library code raises these, never ``SystemExit``.
"""


class VidstyleError(Exception):
    """Base class for problems the user can fix (bad input, options, environment)."""


class InputError(VidstyleError):
    """An input file or folder is missing, empty, corrupt or unsuitable."""


class OptionError(VidstyleError):
    """An option value is impossible or options contradict each other."""


class OutputError(VidstyleError):
    """The output location cannot be written, or holds results of other settings."""


class WeightsError(VidstyleError):
    """Pretrained network weights are missing or invalid."""


class ResourceError(VidstyleError):
    """The machine ran out of memory or disk space."""
