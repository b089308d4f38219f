"""Overnight batch renders: a TOML job file of shots run on Dask, with an HTML report.

``load_jobfile`` validates a whole job file (every problem at once; a shot takes every
``vidstyle video`` option, :mod:`vidstyle.batch.options`), ``run_batch`` runs its shots on
an embedded cluster (one worker per GPU with ``gpu``) or an existing Dask scheduler
(resumable, shots isolated from each other's failures), ``write_report`` writes the
self-contained page.
Nothing here imports TensorFlow on the client; the workers do.
"""

from vidstyle.batch.engine import BatchProgress, BatchResult, BatchState, ShotStatus, run_batch
from vidstyle.batch.jobfile import Batch, JobFileError, Shot, load_jobfile
from vidstyle.batch.report import write_report

__all__ = ["Batch", "BatchProgress", "BatchResult", "BatchState", "JobFileError", "Shot", "ShotStatus",
           "load_jobfile", "run_batch", "write_report"]
