"""Where a batch runs: an existing Dask scheduler, or a cluster started on this machine.

On this machine (no ``--scheduler``) the cluster is a ``LocalCluster`` of worker
processes; with ``gpu`` it follows dask-cuda's conventions instead: one worker per GPU,
each owning its GPU through ``CUDA_VISIBLE_DEVICES`` and declaring ``resources={"GPU": 1}``
(dask-cuda's ``LocalCUDACluster`` when it is installed, else a ``LocalCluster`` whose
workers get their own ``CUDA_VISIBLE_DEVICES``). GPUs are counted without TensorFlow or
CUDA in this process (:func:`visible_gpus`), so the client stays light and a missing GPU
is reported before any work.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from typing import Any

from vidstyle.errors import OptionError

#: Seconds to wait for the first worker of an existing scheduler.
WORKER_WAIT_S = 60.0
#: Seconds ``nvidia-smi -L`` may take.
NVIDIA_SMI_TIMEOUT_S = 20.0
#: Dask resource a stylize task asks for under ``--gpu`` (``dask worker --resources GPU=1``).
GPU_RESOURCE = "GPU"


def visible_gpus(environ: dict[str, str] | None = None) -> list[str]:
    """The GPUs this process may use, as CUDA device ids, without importing CUDA.

    ``CUDA_VISIBLE_DEVICES`` when it is set (CUDA's rules: an empty value or a negative
    id hides every GPU, ids after an invalid one are ignored), else one id per ``GPU N:``
    line of ``nvidia-smi -L``; none when nvidia-smi is missing or fails.
    """
    environ = os.environ if environ is None else environ
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        devices = []
        for item in (part.strip() for part in listed.split(",")):
            if not item or item.startswith("-"):
                break
            devices.append(item)
        return devices
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(k) for k, line in enumerate(line for line in out.stdout.splitlines() if line.startswith("GPU "))]


def gpu_devices(workers: int | None = None) -> list[str]:
    """GPUs an embedded ``--gpu`` cluster uses: the visible ones, the first ``workers`` of them.

    Raises
    ------
    OptionError
        No GPU is visible.
    """
    devices = visible_gpus()
    if not devices:
        raise OptionError("--gpu: no GPU found (nvidia-smi lists none, or CUDA_VISIBLE_DEVICES hides them all); "
                          "leave out --gpu to render on the CPU")
    return devices[:workers] if workers else devices


def dask_cuda_available() -> bool:
    """True when dask-cuda (``LocalCUDACluster``) is installed."""
    return importlib.util.find_spec("dask_cuda") is not None


def dashboard_available() -> bool:
    """True when bokeh is installed, which Dask's dashboard needs."""
    return importlib.util.find_spec("bokeh") is not None


def _gpu_cluster_class():
    from distributed import LocalCluster

    class GPUCluster(LocalCluster):
        """A LocalCluster with one worker per GPU, each seeing only its own GPU.

        dask-cuda gives worker k the rotated list ``k, k+1, …, k-1``, so its default device
        is its own; here worker k sees device k alone, so TensorFlow cannot allocate on
        (or place ops on) another worker's GPU.
        """

        def __init__(self, devices: Sequence[str], **kwargs: Any):
            self.devices = list(devices)
            super().__init__(n_workers=0, processes=True, **kwargs)
            self.scale(len(self.devices))

        def new_worker_spec(self) -> dict[str, Any]:
            free = [d for d in self.devices if f"gpu-{d}" not in self.worker_spec]
            if not free:
                raise ValueError(f"one worker per GPU: all of {', '.join(self.devices)} have one")
            spec = copy.deepcopy(self.new_spec)
            options = spec.setdefault("options", {})
            options["env"] = {**options.get("env", {}), "CUDA_VISIBLE_DEVICES": free[0]}
            return {f"gpu-{free[0]}": spec}

    return GPUCluster


def local_cluster(*, workers: int, gpus: Sequence[str] | None = None) -> Any:
    """Start the embedded cluster on loopback: ``workers`` CPU workers, or one per GPU of ``gpus``.

    A free port, never a fixed one (other batches may run); the dashboard's pages only
    when bokeh is installed (else Dask serves a "please install bokeh" page).
    """
    common = dict(threads_per_worker=1, host="127.0.0.1", dashboard_address=":0",
                  scheduler_kwargs={"dashboard": dashboard_available()}, silence_logs=logging.ERROR)
    if gpus:
        if dask_cuda_available():
            from dask_cuda import LocalCUDACluster

            return LocalCUDACluster(CUDA_VISIBLE_DEVICES=list(gpus), resources={GPU_RESOURCE: 1}, **common)
        return _gpu_cluster_class()(gpus, resources={GPU_RESOURCE: 1}, **common)
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, processes=True, **common)


@contextlib.contextmanager
def connect(scheduler: str | None, *, workers: int, gpus: Sequence[str] | None = None,
            gpu: bool = False, security: Any = None) -> Iterator[Any]:
    """A Dask client: to ``scheduler``, or to an embedded cluster (closed on exit).

    Parameters
    ----------
    scheduler : str or None
        Address of a running scheduler; None starts :func:`local_cluster`.
    workers : int
        CPU workers of the embedded cluster.
    gpus : sequence of str, optional
        GPUs of the embedded cluster (:func:`gpu_devices`), one worker each.
    gpu : bool
        With ``scheduler``: require a worker that declares a GPU resource.
    security : distributed.security.Security, optional
        TLS certificates for a ``tls://`` scheduler (:func:`vidstyle.batch.security.batch_security`).

    Raises
    ------
    OptionError
        The scheduler cannot be reached, has no workers, or (``gpu``) none with GPU resources.
    """
    from distributed import Client

    if scheduler is None:
        cluster = local_cluster(workers=workers, gpus=gpus)
        try:
            with Client(cluster) as client:
                client.wait_for_workers(len(gpus) if gpus else workers, timeout=WORKER_WAIT_S)
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout="20s", security=security)
    except (OSError, TimeoutError) as exc:
        tls = (" (over TLS: the scheduler's certificate must be signed by your --tls-ca-file, yours by the CA "
               "it trusts)") if security is not None else ""
        raise OptionError(f"cannot reach the Dask scheduler at {scheduler}{tls} ({exc}): start it with "
                          "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out --scheduler "
                          "to run on this machine") from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise OptionError(f"the Dask scheduler at {scheduler} has no workers: start some with "
                              f"`dask worker {scheduler}`" + (" --tls-ca-file … --tls-cert … --tls-key …"
                                                              if security is not None else "")) from None
        infos = client.scheduler_info()["workers"].values()
        if gpu and not any(w.get("resources", {}).get(GPU_RESOURCE) for w in infos):
            raise OptionError(f"no worker of {scheduler} declares a GPU: start one worker per GPU with "
                              f"`CUDA_VISIBLE_DEVICES=N dask worker {scheduler} --nthreads 1 --resources "
                              f"{GPU_RESOURCE}=1` (or `dask cuda worker`), or leave out --gpu")
        yield client
    finally:
        client.close()
