"""Fault suite (issue 11, item 12): real vidstyle runs under kill -9, a full disk, unreadable
or unwritable files, corrupt caches and overlapping input/output folders.

Helpers:

- :func:`tree_sha` — sha256 of every file under a folder (hidden files included), to prove
  that finished frames and the user's files are byte-identical after a fault;
- :class:`Vidstyle` (fixture ``vidstyle``) — run the ``vidstyle`` CLI in a subprocess (kill
  points, resource limits, dropped capabilities) or, where no separate process is needed,
  in this process (``inprocess``: the same ``main()``, without paying for a fresh
  TensorFlow import, which keeps the suite within its time budget);
- :func:`assert_one_line_error` — exit status 2, the last stderr line is the one
  ``vidstyle: error:`` line, no traceback.

Every render is tiny (32 px, 4 frames, 2 iterations) and uses its own ``--cache-dir``
(and ``$VIDSTYLE_CACHE``), never the user's ``~/.cache``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip

INJECT_DIR = Path(__file__).parent / "inject"  # sitecustomize.py: VIDSTYLE_TEST_KILL_AT
FRAMES = 4
TINY = ("--size", "32", "--iterations", "2", "--jobs", "1")
#: Dot files vidstyle keeps on purpose (not temporary files).
KNOWN_DOTFILES = {".extract.json"}


# ---- trees ------------------------------------------------------------------------------------
def tree_sha(root: Path, *, hidden: bool = True) -> dict[str, str]:
    """``{relative path: sha256}`` of every regular file under ``root`` (empty if it is missing)."""
    root = Path(root)
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    result = {}
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_file() and not path.is_symlink() and (hidden or not path.name.startswith(".")):
            result[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def leftovers(root: Path) -> list[str]:
    """Hidden files and folders under ``root`` that are not vidstyle's own dot files (temp files)."""
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob(".*") if p.name not in KNOWN_DOTFILES)


def frames_sha(out: Path) -> dict[str, str]:
    """sha256 of the finished (non-hidden) frames in ``out/frames``."""
    return tree_sha(Path(out) / "frames", hidden=False)


# ---- runs -------------------------------------------------------------------------------------
@dataclass
class Run:
    """Outcome of one vidstyle command."""

    code: int | None  # exit status; -9 when killed; None: still running (background)
    out: str
    err: str
    seconds: float


def stderr_lines(err: str) -> list[str]:
    """Non-blank stderr lines as a terminal shows them (a progress bar's last redraw per line)."""
    lines = []
    for line in err.splitlines():
        shown = [seg for seg in line.split("\r") if seg.strip()]
        if shown:
            lines.append(shown[-1].strip())
    return lines


def assert_one_line_error(run: Run, *needles: str) -> str:
    """Exit 2, no traceback, and one error line at the end of stderr: ``vidstyle: error: …``, or
    click's usage error for a bad argument (``Usage:``/``Try …``/``Error: …``, the form the CLI
    tests accept too). Each needle must be in that line."""
    assert "Traceback" not in run.err, run.err[-3000:]
    assert run.code == 2, (run.code, run.err[-3000:])
    lines = stderr_lines(run.err)
    errors = [line for line in lines if "vidstyle: error:" in line]
    if errors:
        assert len(errors) == 1 and lines[-1].startswith("vidstyle: error:"), lines[-5:]
    else:  # click.UsageError / BadParameter
        assert len(lines) <= 3 and lines[-1].startswith("Error: "), lines[-5:]
        errors = [lines[-1]]
    for needle in needles:
        assert needle.lower() in errors[0].lower(), errors[0]
    return errors[0]


def assert_ok(run: Run) -> None:
    assert run.code == 0 and "Traceback" not in run.err, (run.code, run.err[-3000:])


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def drop_dac_capabilities() -> None:
    """preexec_fn: remove CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH from the child's bounding set,
    so that even root obeys file permissions in the exec'd process."""
    libc = _libc()
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))


def permissions_enforceable(tmp_path: Path) -> bool:
    """Can a child process be kept from reading a mode-000 file (non-root, or root minus DAC caps)?"""
    probe = tmp_path / "permission-probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        preexec = drop_dac_capabilities if os.geteuid() == 0 else None
        result = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}).read()"], preexec_fn=preexec,
                                capture_output=True, timeout=60)
        return result.returncode != 0 and b"PermissionError" in result.stderr
    except OSError:
        return False
    finally:
        probe.chmod(0o644)
        probe.unlink()


class Vidstyle:
    """Runs ``vidstyle ARGS``; ``cache`` is the flow cache of every run (``--cache-dir`` in
    :meth:`video_args`, and ``$VIDSTYLE_CACHE`` for commands without that option)."""

    def __init__(self, cache: Path, capfd=None):
        self.cache = Path(cache)
        self._capfd = capfd
        self.env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "VIDSTYLE_CACHE": str(self.cache)}

    def video_args(self, source: Path, style: Path, out: Path, *extra: str, encode: bool = False) -> list[str]:
        """The suite's tiny render: 32 px, 2 iterations, this test's cache."""
        return ["video", str(source), str(style), "-o", str(out), *TINY, "--cache-dir", str(self.cache),
                *(() if encode else ("--no-video",)), *extra]

    def _env(self, kill_at: str | None) -> dict[str, str]:
        env = dict(self.env)
        if kill_at is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INJECT_DIR), env.get("PYTHONPATH")]))
            env["VIDSTYLE_TEST_KILL_AT"] = kill_at
        return env

    def start(self, *args: str, kill_at: str | None = None, preexec_fn=None) -> subprocess.Popen:
        """Start ``vidstyle ARGS`` in a new session (its own process group), output to pipes."""
        return subprocess.Popen([sys.executable, "-m", "vidstyle", *args], env=self._env(kill_at),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, preexec_fn=preexec_fn)

    def run(self, *args: str, kill_at: str | None = None, preexec_fn=None, timeout: float = 300) -> Run:
        """Run ``vidstyle ARGS`` in a subprocess to its end (``kill_at``: see inject/sitecustomize.py)."""
        t0 = time.perf_counter()
        proc = self.start(*args, kill_at=kill_at, preexec_fn=preexec_fn)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            pytest.fail(f"vidstyle {' '.join(args)} ran over {timeout}s:\n{err[-3000:]}")
        return Run(proc.returncode, out, err, time.perf_counter() - t0)

    def inprocess(self, *args: str) -> Run:
        """Run ``vidstyle ARGS`` through ``vidstyle.cli.main`` in this process (same exit codes/stderr)."""
        from vidstyle.cli import main

        assert self._capfd is not None, "in-process runs need the capfd fixture"
        self._capfd.readouterr()
        saved = os.environ.get("VIDSTYLE_CACHE")
        os.environ["VIDSTYLE_CACHE"] = str(self.cache)
        t0 = time.perf_counter()
        code: int | None = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:  # what a user would see as a traceback
            import traceback

            out, err = self._capfd.readouterr()
            return Run(1, out, err + "Traceback (most recent call last):\n" + "".join(
                traceback.format_exception(exc)), time.perf_counter() - t0)
        finally:
            if saved is None:
                os.environ.pop("VIDSTYLE_CACHE", None)
            else:
                os.environ["VIDSTYLE_CACHE"] = saved
        out, err = self._capfd.readouterr()
        return Run(code, out, err, time.perf_counter() - t0)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a run started by :meth:`Vidstyle.start` and every process of its group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@pytest.fixture
def vidstyle(tmp_path, capfd) -> Vidstyle:
    """A :class:`Vidstyle` with this test's cache (``tmp_path/cache``)."""
    return Vidstyle(tmp_path / "cache", capfd)


# ---- media ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    """``clip/f1.png … f4.png`` (a real photo panning 1 px right, 0.5 px down per frame, 32×24)
    and ``style.png`` (32×32). Read-only for tests: copy before changing anything."""
    root = tmp_path_factory.mktemp("faults-media")
    clip = root / "clip"
    clip.mkdir()
    for k, frame in enumerate(render_clip(skimage.data.astronaut(), (32, 24), Motion(dx=1.0, dy=0.5), FRAMES).frames):
        cv2.imwrite(str(clip / f"f{k + 1}.png"), np.ascontiguousarray(frame[..., ::-1]))
    style = cv2.resize(skimage.data.immunohistochemistry(), (32, 32), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(root / "style.png"), style[..., ::-1])
    return root


@pytest.fixture
def user_files(tmp_path, media) -> tuple[Path, Path]:
    """A private copy of the clip and style: (clip folder, style file)."""
    clip, style = tmp_path / "user" / "clip", tmp_path / "user" / "style.png"
    shutil.copytree(media / "clip", clip)
    shutil.copy(media / "style.png", style)
    return clip, style


@pytest.fixture(scope="session")
def reference(tmp_path_factory, media) -> Path:
    """An uninterrupted render of ``media`` with the suite's tiny settings: its output folder.

    Rendered through ``vidstyle.cli.main`` in this process (a subprocess costs a TensorFlow
    import more; the frames are the same bytes: same code, same machine, deterministic ops),
    with its own flow cache in ``<folder>/../cache``.
    """
    from vidstyle.cli import main

    root = tmp_path_factory.mktemp("faults-reference")
    out = root / "out"
    try:
        main(["video", str(media / "clip"), str(media / "style.png"), "-o", str(out), *TINY,
              "--cache-dir", str(root / "cache"), "--no-video"])
    except SystemExit as exc:
        assert exc.code in (0, None), f"reference render failed with exit status {exc.code}"
    assert len(frames_sha(out)) == FRAMES
    return out
