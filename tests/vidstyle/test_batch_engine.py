"""`vidstyle batch` on a real LocalCluster (worker processes on loopback): shots in
parallel, a bad shot failing alone, reruns skipping finished shots, and a worker killed
mid-shot (SIGKILL) with the shot resumed elsewhere to bit-identical frames."""

from __future__ import annotations

import json
import os
import signal

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from vidstyle.batch import BatchProgress, load_jobfile, run_batch
from vidstyle.cli import main

FRAMES = 4
SETTINGS = """
cache_dir = "cache"
[defaults]
style = "style.png"
[defaults.overrides]
size = 48
[defaults.overrides.optimizer]
iterations = 3
pyramid = 1
"""
GOOD = """
[[shot]]
name = "a"
input = "clips/a"
encode = false
[[shot]]
name = "b"
input = "clips/b"
"""
BAD = """
[[shot]]
name = "bad"
input = "clips/bad"
"""


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Two 4-frame clips of real photos with known motion, a clip with a corrupt frame, a style."""
    root = tmp_path_factory.mktemp("batch")
    for name, photo, motion in (("a", "astronaut", Motion(dx=1.5, dy=0.5)), ("b", "coffee", Motion(zoom=1.03))):
        folder = root / "clips" / name
        folder.mkdir(parents=True)
        for k, frame in enumerate(render_clip(getattr(skimage.data, photo)(), (48, 36), motion, FRAMES).frames):
            cv2.imwrite(str(folder / f"frame_{k:03d}.png"), np.ascontiguousarray(frame[..., ::-1]))
    bad = root / "clips" / "bad"
    bad.mkdir()
    for k, source in enumerate(sorted((root / "clips" / "a").iterdir())):
        data = source.read_bytes()
        (bad / source.name).write_bytes(data[:100] if k == 1 else data)  # header intact, pixels cut off
    style = cv2.resize(skimage.data.immunohistochemistry(), (48, 48), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(root / "style.png"), style[..., ::-1])
    (root / "all.toml").write_text(SETTINGS + GOOD + BAD)
    (root / "good.toml").write_text(SETTINGS + GOOD)
    return root


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
                      scheduler_kwargs={"dashboard": False}) as local:
        yield local


@pytest.fixture(scope="module")
def batch_a(media, cluster):
    """Good shots a, b and the bad shot, uninterrupted, into folder A."""
    batch = load_jobfile(media / "all.toml", output=media / "A")
    return run_batch(batch, scheduler=cluster.scheduler_address, flow_chunk=1)


def frames_of(folder):
    return {p.name: p.read_bytes() for p in sorted((folder / "frames").glob("*.png"))}


def test_batch_completes_and_a_bad_shot_fails_alone(batch_a, media):
    status = {s.name: s for s in batch_a.shots}
    assert status["a"].status == status["b"].status == "done"
    assert status["bad"].status == "failed" and "corrupt" in status["bad"].error
    for name in ("a", "b"):
        assert len(frames_of(media / "A" / name)) == FRAMES
        marker = json.loads((media / "A" / name / "done.json").read_text())
        assert marker["frames"] == FRAMES and marker["resumed"] == 0
        assert len((media / "A" / name / "log.jsonl").read_text().splitlines()) == FRAMES
    assert (media / "A" / "b" / marker["video"]).stat().st_size > 0
    saved = json.loads((media / "A" / "batch.json").read_text())
    assert [s["status"] for s in saved["shots"]] == ["done", "done", "failed"]
    page = batch_a.report.read_text()
    assert all(f"shot-{name}" in page for name in ("a", "b", "bad")) and "corrupt" in page


def test_rerun_skips_finished_shots_without_a_cluster(batch_a, media, capfd):
    before = {p: p.stat().st_mtime_ns for p in (media / "A").rglob("frame_*.png")}
    main(["batch", str(media / "good.toml"), "-o", str(media / "A"), "--no-report"])
    out = capfd.readouterr().out
    assert "shot a: finished earlier, skipped" in out and "2/2 shots finished" in out and "dask:" not in out
    assert before == {p: p.stat().st_mtime_ns for p in (media / "A").rglob("frame_*.png")}


class KillAfterFirstFrame(BatchProgress):
    """Kills the worker process (SIGKILL) that just finished frame 1 of shot a."""

    def __init__(self, client):
        self.client, self.killed = client, None

    def frame_done(self, shot, record):
        if shot == "a" and record["frame"] == 1 and self.killed is None:
            pid = self.client.run(os.getpid, workers=[record["worker"]])[record["worker"]]
            os.kill(pid, signal.SIGKILL)
            self.killed = pid


def test_killed_worker_mid_shot_resumes_elsewhere_with_identical_frames(batch_a, media, cluster):
    from distributed import Client

    with Client(cluster) as client:
        progress = KillAfterFirstFrame(client)
        batch = load_jobfile(media / "good.toml", output=media / "B")
        result = run_batch(batch, scheduler=cluster.scheduler_address, progress=progress, report=False)
    assert progress.killed is not None
    assert [s.status for s in result.shots] == ["done", "done"]
    marker = json.loads((media / "B" / "a" / "done.json").read_text())
    assert 1 <= marker["resumed"] < FRAMES  # the retried task started from the frames on disk
    for name in ("a", "b"):
        assert frames_of(media / "B" / name) == frames_of(media / "A" / name)
    finished = [json.loads(line)["frame"] for line in (media / "B" / "a" / "log.jsonl").read_text().splitlines()]
    assert sorted(set(finished)) == list(range(1, FRAMES + 1)) and finished.count(1) == 1  # none redone
