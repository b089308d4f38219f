"""The ``vidstyle`` command line: a thin layer over library functions.

Errors the user can fix become one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from vidstyle import __version__
from vidstyle.errors import VidstyleError
from vidstyle.quiet import native_stderr_silenced

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


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
