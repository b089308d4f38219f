"""``vidstyle batch`` (render a job file of shots on Dask) and ``vidstyle report``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from tqdm import tqdm

from vidstyle.batch.engine import (
    DEFAULT_FLOW_CHUNK,
    DEFAULT_RETRIES,
    FAILED,
    SKIPPED,
    BatchProgress,
    BatchState,
    ShotStatus,
    run_batch,
    shot_job,
)
from vidstyle.batch.jobfile import JobFileError, load_jobfile
from vidstyle.batch.security import TLSFiles, batch_security, insecure_warning
from vidstyle.cli import EXIT_USER_ERROR, cli, start_tensorflow
from vidstyle.cli.preview import preview_options, run_preview
from vidstyle.errors import VidstyleError


class TqdmBatchProgress(BatchProgress):
    """One bar over every frame of the batch (ETA) with shots done/running/failed."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def cluster(self, scheduler: str, dashboard: str | None, workers: int) -> None:
        where = f"dashboard {dashboard}" if dashboard else "no dashboard (pip install bokeh for one)"
        self._write(f"dask: {workers} worker(s) at {scheduler}, {where}")

    def update(self, state: BatchState) -> None:
        if self.bar is None:
            self.bar = tqdm(total=state.frames_total, desc="batch", unit="frame", dynamic_ncols=True)
        self.bar.total = state.frames_total
        self.bar.update(state.frames_done - self.bar.n)
        self.bar.set_postfix_str(f"shots {state.done + state.skipped}/{state.shots} done, {state.running} running, "
                                 f"{state.failed} failed")

    def shot_finished(self, status: ShotStatus) -> None:
        if status.status == FAILED:
            self._write(f"shot {status.name}: failed: {status.error}")
        elif status.status == SKIPPED:
            self._write(f"shot {status.name}: finished earlier, skipped")
        else:
            resumed = f", {status.resumed} resumed" if status.resumed else ""
            self._write(f"shot {status.name}: done ({status.frames} frames{resumed}, {status.seconds:.0f}s)")

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            click.echo(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@cli.command("batch")
@click.argument("jobfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Batch folder (default: the job file's `output`, else renders/ beside it).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on an existing Dask cluster (tls://host:8786, or tcp:// on loopback) instead of this "
                   "machine.")
@click.option("--tls-ca-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --scheduler tls://: the studio's CA (PEM) that signed the scheduler's and workers' "
                   "certificates (default: Dask's distributed.comm.tls.ca-file).")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="This machine's certificate (PEM), signed by that CA (default: distributed.comm.tls.client.cert).")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Its private key (PEM), unless the certificate file holds it (default: "
                   "distributed.comm.tls.client.key).")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Worker processes of the local cluster (default: one per 4 cores, at most one per shot).")
@click.option("--gpu", is_flag=True,
              help="Each shot needs one GPU. Here: one worker per GPU (dask-cuda's LocalCUDACluster when "
                   "installed), each owning its GPU via CUDA_VISIBLE_DEVICES; with --scheduler: workers "
                   "declare it with `dask worker ... --resources GPU=1`. Untested by the authors.")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True,
              help="Where TensorFlow runs on the workers.")
@click.option("--retries", type=click.IntRange(0), default=DEFAULT_RETRIES, show_default=True,
              help="Retries of a task that crashed (worker deaths are retried by Dask anyway).")
@click.option("--flow-chunk", type=click.IntRange(1), default=DEFAULT_FLOW_CHUNK, show_default=True,
              help="Frame pairs per optical-flow task.")
@click.option("--overwrite", is_flag=True, help="Discard results of other settings in the shots' folders.")
@click.option("--check", is_flag=True, help="Only validate the job file and list the shots.")
@click.option("--no-report", is_flag=True, help="Do not write report.html at the end.")
@preview_options
def batch_command(jobfile: Path, output: Path | None, scheduler: str | None, tls_ca_file: Path | None,
                  tls_cert: Path | None, tls_key: Path | None, workers: int | None, gpu: bool,
                  device: str, retries: int, flow_chunk: int, overwrite: bool, check: bool, no_report: bool,
                  preview: bool, preview_frames: int) -> None:
    """Render every shot of JOBFILE (TOML) on Dask; rerun to resume, finished shots are skipped.

    \b
    Examples:
      vidstyle batch shots.toml                      # this machine, overnight
      vidstyle batch shots.toml --check              # validate only
      vidstyle batch shots.toml --preview            # a few small key frames per shot, minutes
      vidstyle batch shots.toml --scheduler tls://render1:8786 --gpu \\
          --tls-ca-file ca.pem --tls-cert me.pem --tls-key me.key
    """
    try:
        batch = load_jobfile(jobfile, output=output)
    except JobFileError as exc:
        click.echo(f"vidstyle: error: {exc.path}: {len(exc.problems)} problem(s), nothing was run:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(EXIT_USER_ERROR)
    security = batch_security(scheduler, TLSFiles(tls_ca_file, tls_cert, tls_key))
    if (warning := insecure_warning(scheduler)) is not None:
        click.echo(f"vidstyle: warning: {warning}", err=True)
    if check:
        for shot in batch.shots:
            styles = ", ".join(p.name for p in shot.styles)
            click.echo(f"{shot.name}: {shot.source} ({shot.frame_count} frames) + {styles} -> {shot.output}")
        click.echo(f"{batch.path.name}: {len(batch.shots)} shot(s) OK")
        return
    if preview:
        return preview_batch(batch, frames=preview_frames, device=device, report=not no_report)
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:  # no -v: keep Dask's chatter off the terminal
        import distributed  # noqa: F401  (its import sets its loggers' levels; override them after)

        logging.getLogger("distributed").setLevel(logging.ERROR)
    progress = TqdmBatchProgress()
    try:
        result = run_batch(batch, scheduler=scheduler, workers=workers, gpu=gpu, device=device, retries=retries,
                           flow_chunk=flow_chunk, overwrite=overwrite, report=not no_report, progress=progress,
                           security=security)
    finally:
        progress.close()
    done = len(result.shots) - len(result.failed)
    click.echo(f"{done}/{len(result.shots)} shots finished in {result.seconds:.0f}s; "
               f"report: {result.report or 'not written'}")
    if result.failed:
        names = ", ".join(s.name for s in result.failed)
        raise VidstyleError(f"{len(result.failed)} of {len(result.shots)} shots failed ({names}); fix what the "
                            "errors above say and rerun the same command (finished shots are skipped)")


def preview_batch(batch, *, frames: int, device: str, report: bool) -> None:
    """``--preview`` of every shot, one after the other in this process (no Dask)."""
    from vidstyle.cli import _user_errors

    start_tensorflow(device)  # before anything imports TensorFlow, so its start-up chatter stays quiet

    failed = []
    for shot in batch.shots:
        job = shot_job(shot, batch.cache_dir, jobs=None)  # masks, region, flow folder: as the render
        try:
            run_preview(job, shot.config, frames=frames, label=f"shot {shot.name}")
        except _user_errors() as exc:
            click.echo(f"shot {shot.name}: preview failed: {exc}")
            failed.append(shot.name)
    if report:
        from vidstyle.batch.report import write_report

        try:
            click.echo(f"report: {write_report(batch.output)}")
        except VidstyleError as exc:  # e.g. every shot failed: nothing to show
            click.echo(f"report: not written ({exc})")
    if failed:
        raise VidstyleError(f"the preview of {len(failed)} of {len(batch.shots)} shots failed "
                            f"({', '.join(failed)}); fix what the errors above say and rerun")


@cli.command("report")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
def report_command(outdir: Path) -> None:
    """Write OUTDIR/report.html for a batch folder (or a `vidstyle video` output folder).

    The page is self-contained (images embedded, no JavaScript): contact sheets (and the
    --preview sheet), loss, temporal error, drift and time per frame of every shot, and a
    summary table.
    """
    from vidstyle.batch.report import write_report

    click.echo(f"wrote {write_report(outdir)}")
