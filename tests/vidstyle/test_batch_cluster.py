"""`vidstyle batch --scheduler` on a real Dask cluster of separate processes: a `dask scheduler`
and two `dask worker` processes on loopback, each in its own process group, as a studio runs
them. One worker is SIGKILLed (its whole group: nanny and worker) mid-shot; the batch finishes
on the other, every shot's frames equal a plain `vidstyle video` run of the same options
byte for byte (one shot with photoreal, mask files, a region and --flow-dir), a shot whose
folder holds a render of other settings fails alone (exit 2, named), and a rerun skips the
finished shots."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from segmentation import write_mask
from vidstyle.batch.engine import EVENT_TOPIC

BIN = Path(sys.executable).parent
CLIP_FRAMES = 5
FRAMES = 4  # per shot (a: frames 2–5, b: frames 1–4)
START_S = 60  # scheduler and workers up
RUN_S = 240  # one `vidstyle batch`
SHARED_UMASK = 0o002  # a render volume shared by a group: every process runs with it
TINY = ["--size", "48", "--iterations", "3", "--pyramid", "1", "--no-video"]
# Shot a: plain, with long-term consistency; shot b: photoreal, mask files, a region and its own
# flow folder; shot "bad": clip a with other settings into the folder holding a's reference.
JOBS = """
cache_dir = "cache"
[defaults]
style = "style.png"
encode = false
size = 48
iterations = 3
pyramid = 1

[[shot]]
name = "a"
input = "clips/a"
start = 2
long_term = [1, 2]

[[shot]]
name = "b"
input = "clips/b"
end = 4
photoreal = true
content_masks = "masks"
style_mask = "style_mask.png"
region = "region.png"
flow_dir = "flows/b"

[[shot]]
name = "bad"
input = "clips/a"
output = "reference/a"
iterations = 2
"""
VIDEO_ARGS = {  # the same shots as `vidstyle video` options
    "a": ["--start", "2", "--long-term", "1,2"],
    "b": ["--end", "4", "--photoreal", "--content-masks", "masks", "--style-mask", "style_mask.png",
          "--region", "region.png", "--flow-dir", "reference/flows-b"],
}


@pytest.fixture
def media(tmp_path):
    """Two 5-frame clips of real photos with known motion, a style, masks of clip b, the job file."""
    for name, photo, motion in (("a", "astronaut", Motion(dx=1.5, dy=0.5)), ("b", "coffee", Motion(zoom=1.03))):
        folder = tmp_path / "clips" / name
        folder.mkdir(parents=True)
        for k, frame in enumerate(render_clip(getattr(skimage.data, photo)(), (48, 36), motion, CLIP_FRAMES).frames):
            cv2.imwrite(str(folder / f"frame_{k:03d}.png"), np.ascontiguousarray(frame[..., ::-1]))
    style = cv2.resize(skimage.data.immunohistochemistry(), (48, 48), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "style.png"), style[..., ::-1])
    labels = np.zeros((36, 48), np.int32)
    labels[:, 20:] = 1  # blue left, green right
    (tmp_path / "masks").mkdir()
    for k in range(FRAMES):
        write_mask(tmp_path / "masks" / f"mask_{k:03d}.png", labels)
    write_mask(tmp_path / "style_mask.png", (np.arange(48)[None, :].repeat(48, 0) >= 24).astype(np.int32))
    region = np.zeros((36, 48), np.uint8)
    region[6:30, 8:40] = 255
    cv2.imwrite(str(tmp_path / "region.png"), region)
    (tmp_path / "jobs.toml").write_text(JOBS)
    return tmp_path


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "VIDSTYLE_CACHE": str(root / "default-cache"),
            "VIDSTYLE_LOG_DIR": str(root / "logs")}


def _shared_umask() -> None:
    os.umask(SHARED_UMASK)


def _start(args: list[str], root: Path, log: str) -> subprocess.Popen:
    """A process in its own group (so the whole group can be killed), output to a log file."""
    with open(root / f"{log}.log", "wb") as out:
        return subprocess.Popen(args, env=_env(root), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_shared_umask)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@pytest.fixture
def dask_processes(tmp_path):
    """``dask scheduler`` and workers A and B (1 thread each), each its own process group:
    ``(address, {"scheduler"|"A"|"B": Popen})``. Everything is killed at the end."""
    root = tmp_path / "dask"
    root.mkdir()
    procs: dict[str, subprocess.Popen] = {}
    try:
        info = root / "scheduler.json"
        procs["scheduler"] = _start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                     "--no-dashboard", "--scheduler-file", str(info)], root, "scheduler")
        deadline = time.monotonic() + START_S
        while not info.is_file():
            assert procs["scheduler"].poll() is None, (root / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for name in ("A", "B"):
            procs[name] = _start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                  "--name", name, "--host", "127.0.0.1", "--no-dashboard",
                                  "--local-directory", str(root / name)], root, f"worker-{name}")
        yield address, procs
    finally:
        for proc in procs.values():
            _kill(proc)


def _frames(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "frames").glob("*.png"))}


def _batch(media: Path, address: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "vidstyle"), "batch", str(media / "jobs.toml"), "--scheduler", address,
                           "--no-report"], env=_env(media), capture_output=True, text=True, timeout=RUN_S,
                          preexec_fn=_shared_umask)


class KillOnFirstFrame:
    """Subscribed to the batch's events: SIGKILLs the process group of the worker that just
    finished the first frame of a shot (the frame is on disk, the shot is not done)."""

    def __init__(self, client, procs):
        self.procs, self.killed, self.shot = procs, None, None
        self.names = {address: info["name"] for address, info in client.scheduler_info()["workers"].items()}
        self.done = threading.Event()

    def __call__(self, event) -> None:
        message = event[1]
        if message.get("event") == "frame" and self.killed is None:
            self.killed, self.shot = self.names[message["worker"]], message["shot"]
            os.killpg(self.procs[self.killed].pid, signal.SIGKILL)
            self.done.set()


def test_batch_on_separate_dask_processes_survives_a_killed_worker(media, dask_processes, monkeypatch):
    from distributed import Client

    from vidstyle.cli import main

    address, procs = dask_processes
    t0 = time.perf_counter()
    monkeypatch.chdir(media)  # the reference runs take the same relative paths as the job file
    for name, args in VIDEO_ARGS.items():  # plain `vidstyle video`, while the workers start
        main(["video", f"clips/{name}", "style.png", "-o", f"reference/{name}", *TINY, *args,
              "--cache-dir", "reference/cache"])
    reference = {name: _frames(media / "reference" / name) for name in VIDEO_ARGS}
    assert all(len(frames) == FRAMES for frames in reference.values())
    t_reference = time.perf_counter() - t0

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=START_S)
        t_cluster = time.perf_counter() - t0
        killer = KillOnFirstFrame(client, procs)
        client.subscribe_topic(EVENT_TOPIC, killer)
        run = _batch(media, address)
    t_batch = time.perf_counter()

    # The killed worker's shot finished on the other one; the bad shot failed alone, named.
    assert killer.done.is_set() and procs[killer.killed].poll() is not None
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert "1 of 3 shots failed (bad)" in run.stderr
    assert "shot bad: failed:" in run.stdout and "holds results made with other settings" in run.stdout
    assert "shot a: done" in run.stdout and "shot b: done" in run.stdout
    marker = json.loads((media / "renders" / killer.shot / "done.json").read_text())
    assert 1 <= marker["resumed"] < FRAMES  # resumed from the frames the killed worker left
    log_lines = (media / "renders" / killer.shot / "log.jsonl").read_text().splitlines()
    log = [json.loads(line)["frame"] for line in log_lines]
    assert sorted(set(log)) == list(range(1, FRAMES + 1)) and log.count(1) == 1  # none redone

    # Byte for byte the frames of plain `vidstyle video` runs with the same options.
    for name in VIDEO_ARGS:
        assert _frames(media / "renders" / name) == reference[name], name
    settings = {where: json.loads((media / where / "b" / "settings.json").read_text())
                for where in ("renders", "reference")}
    assert settings["renders"]["config"] == settings["reference"]["config"]
    files = {where: sorted(map(str, s["masks"]["files"].values())) for where, s in settings.items()}
    assert files["renders"] == files["reference"]  # the same mask files (by content)
    assert sorted(p.name for p in (media / "flows" / "b").glob("backward_*.flo")) == \
        [f"backward_{k + 1}_{k}.flo" for k in range(1, FRAMES)]  # the shot's --flow-dir was used
    assert _frames(media / "reference" / "a") == reference["a"]  # the refused folder is untouched
    written = [p for root in ("renders", "flows", "cache") for p in (media / root).rglob("*")]
    assert {stat.S_IMODE(p.stat().st_mode) for p in written if p.is_file()} == {0o666 & ~SHARED_UMASK}
    assert {stat.S_IMODE(p.stat().st_mode) for p in written if p.is_dir()} == {0o777 & ~SHARED_UMASK}
    assert not [p for p in written if p.name.startswith(".tmp-")]

    # A rerun skips the finished shots (on the one worker left) and fails "bad" again.
    rerun = _batch(media, address)
    assert rerun.returncode == 2 and "1 of 3 shots failed (bad)" in rerun.stderr
    assert "shot a: finished earlier, skipped" in rerun.stdout
    assert "shot b: finished earlier, skipped" in rerun.stdout
    print(f"\nreference renders {t_reference:.1f}s, cluster up after {t_cluster:.1f}s, "
          f"batch {t_batch - t0 - t_cluster:.1f}s, rerun {time.perf_counter() - t_batch:.1f}s, "
          f"worker {killer.killed} killed in shot {killer.shot}")
