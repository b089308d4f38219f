"""Run a batch of shots on Dask: an embedded cluster or an existing scheduler
(:mod:`vidstyle.batch.cluster`, GPUs included).

Each shot is one task chain::

    prepare (claim the output folder, extract frames)
      → flow chunks (independent frame pairs, spread over the workers)
        → stylize (:func:`vidstyle.video.render_video`, which finds the flows there)

and shots run in parallel. Every task builds the shot's :class:`~vidstyle.video.VideoJob`
the way ``vidstyle video`` does (:func:`shot_job`: masks, region, flow folder, cache).
The stylize task wraps ``render_video`` unchanged, so a shot whose worker dies is
rescheduled on another worker by Dask and resumes from its last finished frame (frames
are written atomically and reloaded from disk, so the result is bit-identical to an
uninterrupted run). Problems the user can fix (:class:`~vidstyle.errors.VidstyleError`,
:class:`~flow.errors.FlowError`) are caught inside the tasks and returned as a failed
status, so they are never retried and never stop the other shots. A finished shot
leaves ``done.json`` (written atomically, last) holding the hash of its settings; a
rerun skips shots whose marker matches.

Outputs must live on storage every worker and the client see (one machine, or a
shared file system on a cluster).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vidstyle.batch.cluster import GPU_RESOURCE, connect, dashboard_available, gpu_devices
from vidstyle.batch.jobfile import Batch, Shot
from vidstyle.errors import OptionError, VidstyleError
from vidstyle.images import write_atomic
from vidstyle.quiet import native_stderr_silenced

logger = logging.getLogger(__name__)

DONE_FILE = "done.json"
BATCH_FILE = "batch.json"
EVENT_TOPIC = "vidstyle-batch"
#: Flow pairs per flow task (a pair is both directions + reliability maps).
DEFAULT_FLOW_CHUNK = 8
#: Retries of a task that raised an unexpected exception (worker deaths are retried
#: by the scheduler itself, see ``distributed.scheduler.allowed-failures``).
DEFAULT_RETRIES = 2
#: CPU cores per worker of the embedded cluster (TensorFlow threads inside a shot).
CORES_PER_WORKER = 4
POLL_S = 0.1

# Shot states.
PENDING, RUNNING, DONE, SKIPPED, FAILED = "pending", "running", "done", "skipped", "failed"


@dataclass
class ShotStatus:
    """Where one shot stands.

    Attributes
    ----------
    name : str
        The shot's name.
    output : Path
        Its output folder.
    status : str
        "pending", "running", "done", "skipped" (finished by an earlier run) or "failed".
    error : str or None
        Why it failed.
    frames : int
        Frames of the shot.
    seconds : float
        Time its stylize task took (0 when skipped or failed early).
    resumed : int
        Frames found finished when the stylize task (last) started.
    video : str or None
        File name of the encoded video inside ``output``.
    """

    name: str
    output: Path
    status: str = PENDING
    error: str | None = None
    frames: int = 0
    seconds: float = 0.0
    resumed: int = 0
    video: str | None = None

    def to_json(self, batch_dir: Path) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = os.path.relpath(self.output, batch_dir)  # the batch folder can move
        return data


@dataclass
class BatchState:
    """Counts of the whole batch, passed to :meth:`BatchProgress.update`."""

    shots: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    running: int = 0
    frames_done: int = 0
    frames_total: int = 0


@dataclass
class BatchResult:
    """What :func:`run_batch` did."""

    output: Path
    shots: list[ShotStatus]
    report: Path | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[ShotStatus]:
        return [s for s in self.shots if s.status == FAILED]


class BatchProgress:
    """Receives progress of a batch; the CLI subclasses it with a tqdm bar.

    Every hook runs in the calling (client) thread.
    """

    def cluster(self, scheduler: str, dashboard: str | None, workers: int) -> None:
        """Connected: scheduler address, dashboard link (None when there is none)."""

    def update(self, state: BatchState) -> None:
        """Counts changed (a shot started, finished, or a frame finished)."""

    def frame_done(self, shot: str, record: dict[str, Any]) -> None:
        """A frame of ``shot`` finished; ``record`` also names the ``worker`` address."""

    def shot_finished(self, status: ShotStatus) -> None:
        """A shot finished, failed, or was skipped."""


# ---- finished shots ---------------------------------------------------------------------
def frame_units(shot: Shot) -> int:
    """Frame optimizations the shot takes (frames × passes)."""
    return shot.frame_count * max(shot.config.video.passes, 1)


def read_done(output: Path) -> dict[str, Any] | None:
    """The ``done.json`` marker of a shot folder, or None."""
    try:
        data = json.loads((Path(output) / DONE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_finished(shot: Shot, key: str | None = None) -> bool:
    """True when the shot's marker matches its settings and its frames (and video) exist."""
    marker = read_done(shot.output)
    if marker is None or marker.get("key") != (key or shot.key()):
        return False
    from vidstyle.workspace import Workspace

    ws = Workspace.of(shot.output)  # frames/ names as the shot's settings.json records them
    if not all(ws.frame_path(ws.frames_dir, i).is_file() for i in range(shot.frame_count)):
        return False
    return not (shot.encode and not (marker.get("video") and (shot.output / marker["video"]).is_file()))


# ---- tasks (run on the workers) ---------------------------------------------------------
@functools.cache
def _tensorflow_ready(device: str, threads: int | None, own_gpu: bool = False) -> str:
    """Configure TensorFlow once per worker process (threads, device, determinism).

    ``own_gpu`` (a ``--gpu`` batch): the worker uses the first GPU of its
    ``CUDA_VISIBLE_DEVICES`` only (its own under dask-cuda's rotated lists), so several
    workers of one machine never share a GPU.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():  # TensorFlow's C++ start-up banners, once per worker
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")

    if own_gpu and len(gpus) > 1:
        try:
            tf.config.set_visible_devices(gpus[:1], "GPU")
        except RuntimeError:
            logger.debug("TensorFlow already started; visible GPUs unchanged")
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        except RuntimeError:
            logger.debug("TensorFlow already started; thread settings unchanged")
    from vidstyle.device import configure_device

    return configure_device(device)


def _user_errors() -> tuple[type[BaseException], ...]:
    from flow.errors import FlowError

    return (VidstyleError, FlowError)


def _event(shot: str, kind: str, **fields: Any) -> None:
    """Tell the client what a task is doing (a no-op outside a Dask worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:
        return
    worker.log_event(EVENT_TOPIC, {"shot": shot, "event": kind, "worker": worker.address, **fields})


def shot_job(shot: Shot, cache_dir: Path | None = None, *, jobs: int | None = 1) -> Any:
    """The :class:`vidstyle.video.VideoJob` of a shot: what ``vidstyle video`` gets from the same
    options. ``cache_dir`` is the batch's flow cache (the shot's own ``cache_dir`` wins)."""
    from vidstyle.video import VideoJob

    return VideoJob(source=shot.source, styles=shot.styles, output=shot.output, selection=shot.selection,
                    flow_dir=shot.flow_dir, cache_dir=shot.cache_dir or cache_dir, cache_max_gb=shot.cache_max_gb,
                    no_cache=shot.no_cache, jobs=jobs, encode=shot.encode, codec=shot.codec, fps=shot.fps,
                    masks=shot.masks, plate=shot.plate)


def _prepare_task(shot: Shot, overwrite: bool, device: str, threads: int | None,
                  own_gpu: bool = False) -> dict[str, Any]:
    """Claim the shot's folder with its settings and extract its frames into input/."""
    _event(shot.name, "start")
    try:
        _tensorflow_ready(device, threads, own_gpu)
        from vidstyle.delivery import plan_delivery
        from vidstyle.frames import extract_frames, open_frames
        from vidstyle.video import claim_workspace

        source = open_frames(shot.source, selection=shot.selection, long_side=shot.config.size, fps=shot.fps,
                             plate=shot.plate)
        # Same checks and claim as render_video, so a folder of other settings fails before any work.
        ws, _, _ = claim_workspace(shot_job(shot), shot.config, source, overwrite=overwrite)
        (shot.output / DONE_FILE).unlink(missing_ok=True)  # only once the folder is this shot's
        inputs = extract_frames(source, ws.input_dir, bit_depth=16 if plan_delivery(source, shot.plate).deep else 8)
    except _user_errors() as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "inputs": [str(p) for p in inputs]}


def _flow_task(prepared: dict[str, Any], shot: Shot, pairs: Sequence[tuple[int, int]],
               cache_dir: Path | None) -> dict[str, Any]:
    """Compute a chunk of the shot's flow pairs where render_video looks for them (skips valid ones)."""
    if not prepared["ok"]:
        return prepared
    from flow.store import FlowSettings, compute_flows
    from vidstyle.video import pairs_needed
    from vidstyle.workspace import Workspace, default_cache_dir

    inputs = [Path(p) for p in prepared["inputs"]]
    video = shot.config.video
    offsets = video.flow_offsets()
    # A resumed shot only needs the pairs of the frames it has left.
    ws = Workspace.of(shot.output)
    needed = set(pairs_needed(ws, len(inputs), offsets, video.passes))
    pairs = [(i, j) for i, j in pairs if (i, j) in needed]
    _event(shot.name, "flow", pairs=len(pairs))
    job = shot_job(shot, cache_dir)
    try:  # the folder, cache and cap render_video passes to compute_flows
        compute_flows(inputs, job.flow_dir or ws.flow_dir, own_dir=ws.flow_dir,
                      settings=FlowSettings.create(video.flow_method),
                      cache_dir=None if job.no_cache else job.cache_dir or default_cache_dir(),
                      cache_max_gb=job.cache_max_gb, jobs=1, pairs=pairs)
    except _user_errors() as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True}


class _EventProgress:
    """A :class:`vidstyle.video.VideoProgress` (same hooks; no import of TensorFlow on the
    client) that forwards frame counts and finished frames as Dask events."""

    def __init__(self, shot: str):
        self.shot, self.stage_name = shot, ""

    def stage(self, name: str, total: int) -> None:
        self.stage_name = name

    def advance(self, done: int, total: int) -> None:
        if self.stage_name == "frames" or self.stage_name.startswith("pass "):
            _event(self.shot, "advance", stage=self.stage_name, done=done, total=total)

    def step(self, frame: int, step: Any) -> None:
        pass

    def frame_done(self, record: dict[str, Any]) -> None:
        _event(self.shot, "frame", record={k: v for k, v in record.items() if k != "terms"})


def _stylize_task(prepared: dict[str, Any], flows: list[dict[str, Any]], shot: Shot, key: str, overwrite: bool,
                  cache_dir: Path | None, device: str, threads: int | None, own_gpu: bool = False) -> dict[str, Any]:
    """Stylize one shot with render_video (resuming), then write its done.json marker."""
    for step in (prepared, *flows):
        if not step["ok"]:
            return {"status": FAILED, "error": step["error"]}
    _event(shot.name, "start")
    try:
        _tensorflow_ready(device, threads, own_gpu)
        from vidstyle.video import render_video

        progress = _EventProgress(shot.name)
        result = render_video(shot_job(shot, cache_dir), shot.config, progress=progress, overwrite=overwrite)
    except _user_errors() as exc:
        return {"status": FAILED, "error": str(exc)}
    marker = {"key": key, "name": shot.name, "frames": len(result.frames), "resumed": result.resumed_frames,
              "seconds": round(result.seconds, 3), "video": result.video.name if result.video else None,
              "finished": round(time.time(), 3)}
    write_atomic(shot.output / DONE_FILE, (json.dumps(marker, indent=1) + "\n").encode())
    return {"status": DONE, **marker}


# ---- client side ------------------------------------------------------------------------
def _flow_pairs(shot: Shot) -> list[tuple[int, int]]:
    video = shot.config.video
    offsets = video.flow_offsets()
    return [(i, i + o) for o in offsets for i in range(shot.frame_count - o)]


def default_workers(shots: int) -> int:
    """Workers of the embedded cluster: one per CORES_PER_WORKER cores, at most one per shot."""
    return max(1, min(shots, (os.cpu_count() or 1) // CORES_PER_WORKER))


def _dashboard(client: Any, local: bool) -> str | None:
    """The dashboard link, None when there is none (or, locally, bokeh is missing)."""
    if local and not dashboard_available():
        return None
    try:
        if not client.scheduler_info().get("services", {}).get("dashboard"):
            return None
        return client.dashboard_link
    except (KeyError, AttributeError, OSError):
        return None


def _write_batch_file(batch: Batch, statuses: Sequence[ShotStatus]) -> None:
    batch.output.mkdir(parents=True, exist_ok=True)
    data = {"job_file": str(batch.path), "updated": round(time.time(), 3),
            "shots": [s.to_json(batch.output) for s in statuses]}
    write_atomic(batch.output / BATCH_FILE, (json.dumps(data, indent=1) + "\n").encode())


@dataclass
class _Tracker:
    """Client-side bookkeeping of events and finished futures."""

    batch: Batch
    statuses: dict[str, ShotStatus]
    progress: BatchProgress
    units: dict[str, int]
    stage_done: dict[tuple[str, str], int] = field(default_factory=dict)

    def state(self) -> BatchState:
        counts = [s.status for s in self.statuses.values()]
        done_units = sum(self.units[s.name] for s in self.statuses.values() if s.status in (DONE, SKIPPED))
        live = sum(v for (name, _), v in self.stage_done.items() if self.statuses[name].status == RUNNING)
        return BatchState(shots=len(counts), done=counts.count(DONE), skipped=counts.count(SKIPPED),
                          failed=counts.count(FAILED), running=counts.count(RUNNING),
                          frames_done=done_units + live, frames_total=sum(self.units.values()))

    def event(self, message: dict[str, Any]) -> None:
        status = self.statuses.get(message.get("shot"))
        if status is None or status.status in (DONE, FAILED, SKIPPED):
            return
        status.status = RUNNING
        if message["event"] == "advance":
            stage_key = (status.name, message["stage"])
            self.stage_done[stage_key] = max(self.stage_done.get(stage_key, 0), int(message["done"]))
        elif message["event"] == "frame":
            self.progress.frame_done(status.name, {**message["record"], "worker": message["worker"]})
        self.progress.update(self.state())

    def finished(self, name: str, outcome: dict[str, Any]) -> None:
        status = self.statuses[name]
        status.status = outcome["status"]
        status.error = outcome.get("error")
        status.seconds = float(outcome.get("seconds", 0.0))
        status.resumed = int(outcome.get("resumed", 0))
        status.video = outcome.get("video")
        if status.error:
            logger.warning("shot %s failed: %s", name, status.error)
        _write_batch_file(self.batch, list(self.statuses.values()))
        self.progress.shot_finished(status)
        self.progress.update(self.state())


def run_batch(batch: Batch, *, scheduler: str | None = None, workers: int | None = None, gpu: bool = False,
              device: str = "auto", retries: int = DEFAULT_RETRIES, flow_chunk: int = DEFAULT_FLOW_CHUNK,
              overwrite: bool = False, report: bool = True,
              progress: BatchProgress | None = None, security: Any = None) -> BatchResult:
    """Render every shot of ``batch`` on Dask; skips shots an earlier run finished.

    Parameters
    ----------
    batch : Batch
        A validated job file (:func:`vidstyle.batch.jobfile.load_jobfile`).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); None starts a cluster of
        worker processes on this machine (:func:`vidstyle.batch.cluster.local_cluster`)
        and closes it at the end.
    workers : int, optional
        Workers of the embedded cluster (default :func:`default_workers`; with ``gpu``, one
        per visible GPU, at most ``workers``).
    gpu : bool
        Stylize tasks ask for ``resources={"GPU": 1}``, so a worker started with
        ``--resources GPU=1`` runs one shot at a time on its GPU. The embedded cluster
        then has one worker per GPU, each owning it through ``CUDA_VISIBLE_DEVICES``.
    device : {"auto", "cpu", "gpu"}
        TensorFlow device on the workers.
    retries : int
        Retries of a task that raised an unexpected error (user errors are not retried).
    flow_chunk : int
        Frame pairs per flow task.
    overwrite : bool
        Discard results of other settings in the shots' folders (else such a shot fails).
    report : bool
        Write ``report.html`` into the batch folder at the end.
    progress : BatchProgress, optional
        Receives progress events.
    security : distributed.security.Security, optional
        TLS certificates of a ``tls://`` scheduler (:func:`vidstyle.batch.security.batch_security`).

    Returns
    -------
    BatchResult
        Per-shot statuses; failed shots carry their error.

    Raises
    ------
    OptionError
        Bad arguments, the scheduler cannot be used, or ``gpu`` on this machine without a GPU.
    """
    if retries < 0 or flow_chunk < 1 or (workers is not None and workers < 1):
        raise OptionError("retries must be ≥ 0, flow chunk ≥ 1 and workers ≥ 1")
    gpus = gpu_devices(workers) if gpu and scheduler is None else None  # no GPU: fail before any work
    progress = progress or BatchProgress()
    start = time.perf_counter()
    keys = {shot.name: shot.key() for shot in batch.shots}
    statuses = {shot.name: ShotStatus(shot.name, shot.output, frames=shot.frame_count) for shot in batch.shots}
    tracker = _Tracker(batch, statuses, progress, {shot.name: frame_units(shot) for shot in batch.shots})
    todo = []
    for shot in batch.shots:
        if is_finished(shot, keys[shot.name]):
            marker = read_done(shot.output) or {}
            statuses[shot.name] = ShotStatus(shot.name, shot.output, SKIPPED, frames=shot.frame_count,
                                             seconds=float(marker.get("seconds", 0.0)), video=marker.get("video"))
            progress.shot_finished(statuses[shot.name])
        else:
            todo.append(shot)
    _write_batch_file(batch, list(statuses.values()))
    progress.update(tracker.state())
    if todo:
        workers = len(gpus) if gpus else workers or default_workers(len(todo))
        threads = max(1, (os.cpu_count() or 1) // workers) if scheduler is None else None
        with connect(scheduler, workers=workers, gpus=gpus, gpu=gpu, security=security) as client:
            progress.cluster(client.scheduler.address, _dashboard(client, scheduler is None),
                             len(client.scheduler_info()["workers"]))
            _run(client, todo, tracker, keys, gpu=gpu, device=device, retries=retries, flow_chunk=flow_chunk,
                 overwrite=overwrite, cache_dir=batch.cache_dir, threads=threads)
    result = BatchResult(batch.output, list(statuses.values()), seconds=time.perf_counter() - start)
    if report:
        from vidstyle.batch.report import write_report

        result.report = write_report(batch.output)
    return result


def _run(client: Any, shots: Sequence[Shot], tracker: _Tracker, keys: dict[str, str], *, gpu: bool,
         device: str, retries: int, flow_chunk: int, overwrite: bool, cache_dir: Path | None,
         threads: int | None) -> None:
    """Submit every shot's task chain and follow them until all finished."""
    from distributed import as_completed

    events: queue.SimpleQueue = queue.SimpleQueue()
    client.subscribe_topic(EVENT_TOPIC, lambda event: events.put(event[1]))
    run_id = uuid.uuid4().hex[:8]
    futures = {}
    for shot in shots:
        prepared = client.submit(_prepare_task, shot, overwrite, device, threads, gpu, retries=retries,
                                 key=f"prepare-{shot.name}-{run_id}")
        pairs = _flow_pairs(shot)
        flows = [client.submit(_flow_task, prepared, shot, pairs[k:k + flow_chunk], cache_dir, retries=retries,
                               key=f"flow-{shot.name}-{k // flow_chunk}-{run_id}")
                 for k in range(0, len(pairs), flow_chunk)]
        stylized = client.submit(_stylize_task, prepared, flows, shot, keys[shot.name], overwrite, cache_dir,
                                 device, threads, gpu, retries=retries,
                                 resources={GPU_RESOURCE: 1} if gpu else None,
                                 key=f"stylize-{shot.name}-{run_id}")
        futures[stylized] = shot.name
    pending = as_completed(list(futures))
    try:
        while not pending.is_empty() or not events.empty():
            for future in pending.next_batch(block=False) if pending.has_ready() else []:
                _drain(events, tracker)
                tracker.finished(futures[future], _outcome(future))
            _drain(events, tracker)
            if not pending.is_empty():
                time.sleep(POLL_S)
    finally:
        client.unsubscribe_topic(EVENT_TOPIC)
        client.cancel(list(futures))  # a no-op for finished ones; frees a shared cluster on Ctrl-C


def _drain(events: queue.SimpleQueue, tracker: _Tracker) -> None:
    while not events.empty():
        tracker.event(events.get())


def _outcome(future: Any) -> dict[str, Any]:
    """The stylize task's status dict, or a failure built from the task's exception."""
    if future.status == "finished":
        return future.result()
    exc = future.exception()
    name = type(exc).__name__
    if name == "KilledWorker":
        return {"status": FAILED, "error": "the workers running this shot died repeatedly (out of memory?); "
                                           "rerun the batch to resume it, with fewer workers or a smaller size"}
    return {"status": FAILED, "error": f"internal error {name}: {exc}; rerun the batch to resume the shot"}
