"""Keep TensorFlow's native start-up banners off the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Park file descriptor 2 while TensorFlow's C++ side prints its start-up notes.

    TensorFlow writes absl/oneDNN/CUDA banners before it reads TF_CPP_MIN_LOG_LEVEL, so
    the only way to keep the terminal to progress bars and one-line errors is to point
    fd 2 at /dev/null around the import and the device probe.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
