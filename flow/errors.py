"""Errors the user can fix.

``flow`` is a standalone package, so it has its own error type instead of
importing ``vidstyle.errors``. Every message says what to do; the vidstyle CLI
turns a :class:`FlowError` into a one-line error.
"""

__all__ = ["FlowError"]


class FlowError(ValueError):
    """Bad input to the flow package: frames, options or flow files the user can fix."""
