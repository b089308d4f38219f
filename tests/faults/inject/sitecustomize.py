"""Fault injection for tests/faults: a ``kill -9`` at an exact point of a vidstyle run.

tests/faults/conftest.py puts this folder on PYTHONPATH (so every Python process of the
run imports it: the CLI, flow workers, Dask workers) and sets

    VIDSTYLE_TEST_KILL_AT=GLOB[@N]

The N-th (default 1st) ``os.replace`` in a process whose target path matches the glob
(``fnmatch``: ``*`` also matches ``/``) sends SIGKILL to the run's whole process group
*before* renaming: the file being written is complete under its temporary name and its
final name does not exist yet, as when the machine dies in the middle of that write.
The test starts the run in a new session, so only the run's processes die. vidstyle
itself never reads this variable.
"""

import fnmatch
import os
import signal

_SPEC = os.environ.get("VIDSTYLE_TEST_KILL_AT")

if _SPEC:
    _pattern, _, _nth = _SPEC.rpartition("@") if "@" in _SPEC else (_SPEC, "", "1")
    _nth = int(_nth)
    _replace = os.replace
    _seen = 0

    def _kill_before_replace(src, dst, *args, **kwargs):
        global _seen
        if fnmatch.fnmatch(os.fsdecode(os.fspath(dst)), _pattern):
            _seen += 1
            if _seen == _nth:
                if os.getpgrp() == os.getsid(0):  # the run's own session (started by the test)
                    os.killpg(os.getpgrp(), signal.SIGKILL)
                os.kill(os.getpid(), signal.SIGKILL)
        return _replace(src, dst, *args, **kwargs)

    os.replace = _kill_before_replace
