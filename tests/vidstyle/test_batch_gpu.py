"""`vidstyle batch --gpu` on this machine: GPUs counted without CUDA, one worker per GPU owning
it through CUDA_VISIBLE_DEVICES with a GPU=1 resource (dask-cuda's convention), and a one-line
error before any work when there is no GPU. There is no GPU here: the per-worker devices are
the ids CUDA_VISIBLE_DEVICES names (TensorFlow, finding no CUDA driver, renders on the CPU)."""

from __future__ import annotations

import json
import os
import stat

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from vidstyle.batch import BatchProgress, load_jobfile, run_batch
from vidstyle.batch.cluster import dask_cuda_available, visible_gpus

JOBS = """
[defaults]
style = "style.png"
encode = false
size = 32
iterations = 2
pyramid = 1
[[shot]]
name = "pan"
input = "clip"
"""


@pytest.fixture
def jobfile(tmp_path):
    (tmp_path / "clip").mkdir()
    for k, frame in enumerate(render_clip(skimage.data.astronaut(), (32, 24), Motion(dx=1.0), 3).frames):
        cv2.imwrite(str(tmp_path / "clip" / f"f{k}.png"), np.ascontiguousarray(frame[..., ::-1]))
    style = cv2.resize(skimage.data.immunohistochemistry(), (32, 32), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "style.png"), style[..., ::-1])
    (tmp_path / "jobs.toml").write_text(JOBS)
    return tmp_path / "jobs.toml"


def test_visible_gpus_follow_cuda_rules_and_nvidia_smi(tmp_path, monkeypatch):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0,2"}) == ["0", "2"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-8f3e, 1"}) == ["GPU-8f3e", "1"]
    for hidden in ("", "-1", " "):
        assert visible_gpus({"CUDA_VISIBLE_DEVICES": hidden}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == ["1"]  # CUDA stops at an invalid id
    smi = tmp_path / "bin" / "nvidia-smi"  # the lines `nvidia-smi -L` prints on a 2-GPU machine with MIG
    smi.parent.mkdir()
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-a)'\necho '  MIG 3g.40gb Device 0: (UUID: MIG-b)'\n"
                   "echo 'GPU 1: NVIDIA H100 (UUID: GPU-c)'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(smi.parent))
    assert visible_gpus({}) == ["0", "1"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert visible_gpus({}) == []  # no nvidia-smi: no GPU


def test_gpu_without_a_gpu_is_a_one_line_error_before_any_work(jobfile, monkeypatch, cli_fails):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, whatever the machine has
    code, _, err = cli_fails("batch", str(jobfile), "--gpu")
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == ["vidstyle: error: --gpu: no GPU found (nvidia-smi lists none, or "
                                        "CUDA_VISIBLE_DEVICES hides them all); leave out --gpu to render on the CPU"]
    assert not (jobfile.parent / "renders").exists()


class WorkerDevices(BatchProgress):
    """Asks every worker of the cluster for its CUDA_VISIBLE_DEVICES and resources."""

    def __init__(self):
        self.devices, self.resources = {}, {}

    def cluster(self, scheduler, dashboard, workers):
        from distributed import Client

        with Client(scheduler) as client:
            self.devices = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))  # the worker's environ
            self.resources = {a: w["resources"] for a, w in client.scheduler_info()["workers"].items()}


@pytest.mark.skipif(dask_cuda_available(), reason="dask-cuda installed: LocalCUDACluster needs real GPUs")
def test_gpu_batch_runs_one_worker_per_gpu(jobfile, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    progress = WorkerDevices()
    result = run_batch(load_jobfile(jobfile), gpu=True, progress=progress, report=False)
    assert [s.status for s in result.shots] == ["done"]
    assert sorted(progress.devices.values()) == ["3", "5"]  # each worker owns one GPU
    assert list(progress.resources.values()) == [{"GPU": 1}, {"GPU": 1}]
    assert json.loads((jobfile.parent / "renders" / "pan" / "done.json").read_text())["frames"] == 3
