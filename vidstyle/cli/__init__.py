"""The ``vidstyle`` command line: a thin layer over library functions.

Errors the user can fix become one line on stderr and exit status 2, never a traceback.
Anything else (a bug, a TensorFlow or device failure) becomes one line naming a log file
that holds the traceback, exit status 1.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from vidstyle import __version__
from vidstyle.errors import VidstyleError
from vidstyle.quiet import native_stderr_silenced

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_INTERNAL_ERROR = 1


def _user_errors() -> tuple[type[BaseException], ...]:
    # flow and segmentation are standalone packages with their own error types.
    errors: list[type[BaseException]] = [VidstyleError]
    for module, name in (("flow.errors", "FlowError"), ("segmentation.errors", "SegmentationError")):
        try:
            errors.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="vidstyle")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Offline video style transfer: Gatys, Ruder (video) and Luan (photoreal)."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def start_tensorflow(device: str) -> str:
    """Import TensorFlow quietly and select ``device``; returns "cpu" or "gpu"."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        from vidstyle.device import configure_device

        try:
            return configure_device(device)
        except VidstyleError as exc:
            failure = exc
    raise failure


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from vidstyle.cli import commands  # noqa: F401  (registers the subcommands)

    try:
        cli.main(args=argv, prog_name="vidstyle", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("vidstyle: interrupted; rerun the same command to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USER_ERROR if exc.exit_code != 0 else 0)
    except _user_errors() as exc:
        click.echo(f"vidstyle: error: {exc}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        click.echo("vidstyle: interrupted; rerun the same command to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except MemoryError:
        click.echo("vidstyle: error: out of memory; lower --size (or use --tile), then rerun to resume", err=True)
        sys.exit(EXIT_USER_ERROR)
    except Exception as exc:  # a bug or a TensorFlow/device failure: the traceback goes to a file
        if type(exc).__name__ == "ResourceExhaustedError":  # TensorFlow out of (GPU) memory
            click.echo("vidstyle: error: out of device memory; lower --size or use --device cpu, "
                       "then rerun to resume", err=True)
            sys.exit(EXIT_USER_ERROR)
        log = write_crash_log()
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        click.echo(f"vidstyle: internal error ({type(exc).__name__}: {first}); the traceback is in {log}: "
                   "please report it with that file. Rerun the same command to resume.", err=True)
        sys.exit(EXIT_INTERNAL_ERROR)


def crash_log_dir() -> Path:
    """$VIDSTYLE_LOG_DIR, else $XDG_STATE_HOME/vidstyle/logs, else ~/.local/state/vidstyle/logs."""
    if os.environ.get("VIDSTYLE_LOG_DIR"):
        return Path(os.environ["VIDSTYLE_LOG_DIR"])
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "vidstyle" / "logs"


def write_crash_log() -> Path:
    """Write the current exception's traceback (and the command line) to a new log file."""
    text = (f"vidstyle {__version__}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
            f"command: {' '.join(sys.argv)}\n\n{traceback.format_exc()}")
    for folder in (crash_log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"vidstyle-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(no writable log folder)")
