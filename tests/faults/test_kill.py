"""kill -9 in the middle of a render, then the same command again.

Exact kill points come from tests/faults/inject/sitecustomize.py: the run's whole process
group gets SIGKILL right before the file being written is renamed into place. One video
render is killed in turn while writing a flow, a frame and the encoded video (each rerun of
the same command is killed at the next point, the last one finishes); a `vidstyle batch` is
killed while its Dask worker writes a frame of the shot. A seeded random-delay test (slow)
adds points nobody chose. After each kill: the rerun finishes; frames finished before the
kill stay byte-identical; the user's files are untouched; the final frames equal those of
an uninterrupted run; no temporary files are left in the output folder.
"""

from __future__ import annotations

import fnmatch
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.conftest import (
    FRAMES,
    Run,
    Vidstyle,
    assert_ok,
    frames_sha,
    kill_group,
    leftovers,
    tree_sha,
)

#: The kill points of one render, in the order the run reaches them: each rerun of the same
#: command is killed at the next point, the last rerun finishes. (Chained, so that three kill
#: points cost four runs.)
VIDEO_KILLS = (
    ("flow write", "*/out/flow/backward_3_2.flo"),  # the second frame pair's backward flow
    ("frame write", "*/out/frames/frame_00002.png"),
    ("encode", "*/out/clip_stylized.mp4"),  # ffmpeg done, the video not yet renamed into place
)
#: A frame written by the Dask worker of a `vidstyle batch` shot (the whole batch dies).
BATCH_KILLS = (("batch task", "*/renders/shot/frames/frame_00002.png"),)

BATCH_TOML = """
output = "renders"
cache_dir = "cache"
[defaults]
style = "user/style.png"
[defaults.overrides]
size = 32
[defaults.overrides.optimizer]
iterations = 2
[[shot]]
name = "shot"
input = "user/clip"
encode = false
"""

@dataclass
class Kill:
    point: str
    pattern: str
    run: Run
    finished: dict[str, str]  # sha of the frames/ and input/ files that existed right after the kill
    temps: list[str]  # hidden files in OUT right after the kill
    target_exists: bool  # did the interrupted file exist under its final name after the kill?


@dataclass
class Chain:
    out: Path  # the output folder (video) or the shot's folder (batch)
    kills: list[Kill]
    final: Run
    user_before: dict[str, str]
    user_after: dict[str, str]


def _finished(out: Path) -> dict[str, str]:
    return {f"{sub}/{name}": sha for sub in ("frames", "input")
            for name, sha in tree_sha(out / sub, hidden=False).items()}


def _run_chain(root: Path, kind: str) -> Chain:
    user = root / "user"
    vidstyle = Vidstyle(root / "cache")
    if kind == "batch":
        (root / "job.toml").write_text(BATCH_TOML)
        args = ["batch", str(root / "job.toml"), "--workers", "1", "--no-report"]
        out, points = root / "renders" / "shot", BATCH_KILLS
    else:
        out, points = root / "out", VIDEO_KILLS
        args = vidstyle.video_args(user / "clip", user / "style.png", out, encode=True)
    user_before = tree_sha(user)
    kills = []
    for point, pattern in points:
        run = vidstyle.run(*args, kill_at=pattern)
        target = any(fnmatch.fnmatch(str(path), pattern) for path in root.rglob("*"))
        kills.append(Kill(point, pattern, run, _finished(out), leftovers(out), target))
    final = vidstyle.run(*args)
    return Chain(out, kills, final, user_before, tree_sha(user))


@pytest.fixture(scope="module")
def chain(tmp_path_factory, media):
    """``chain(kind)``: the kill chain of a "video" or "batch" render; each runs once per module."""
    done: dict[str, Chain] = {}

    def get(kind: str) -> Chain:
        if kind not in done:
            root = tmp_path_factory.mktemp(f"kill-{kind}")
            shutil.copytree(media / "clip", root / "user" / "clip")
            shutil.copy(media / "style.png", root / "user" / "style.png")
            done[kind] = _run_chain(root, kind)
        return done[kind]

    return get


KINDS = ("video", "batch")
RANDOM_KILLS = 3


@pytest.mark.parametrize("kind", KINDS)
def test_each_kill_lands_mid_write_and_the_last_rerun_finishes(chain, kind):
    c = chain(kind)
    for kill in c.kills:
        assert kill.run.code == -9, (kill.point, kill.run.code, kill.run.err[-2000:])
        assert not kill.target_exists, f"{kill.point}: the kill came after the rename"
        stem = kill.pattern.rsplit("/", 1)[-1].split(".")[0]
        assert any(stem in name for name in kill.temps), (kill.point, kill.temps)  # its temp file is there
    assert_ok(c.final)


@pytest.mark.parametrize("kind", KINDS)
def test_frames_finished_before_a_kill_are_kept(chain, kind):
    c = chain(kind)
    later = [kill.finished for kill in c.kills[1:]] + [_finished(c.out)]
    for kill, after in zip(c.kills, later, strict=True):
        assert kill.finished, f"{kill.point}: nothing was finished before the kill"
        assert {name: after.get(name) for name in kill.finished} == kill.finished, kill.point


@pytest.mark.parametrize("kind", KINDS)
def test_user_files_untouched(chain, kind):
    c = chain(kind)
    assert c.user_after == c.user_before


@pytest.mark.parametrize("kind", KINDS)
def test_final_frames_equal_an_uninterrupted_run(chain, kind, reference):
    c = chain(kind)
    assert frames_sha(c.out) == frames_sha(reference)
    if kind == "video":
        assert (c.out / "clip_stylized.mp4").stat().st_size > 0


@pytest.mark.parametrize("kind", KINDS)
def test_no_temp_files_left_after_the_rerun(chain, kind):
    c = chain(kind)
    assert leftovers(c.out) == []


@pytest.mark.slow  # ~20 s; the exact kill points above cover the writes, this adds points nobody chose
def test_kill_at_random_moments_then_rerun(tmp_path, user_files, reference):
    # Kills after seeded random delays counted from the moment the run claimed its folder
    # (TensorFlow loaded), wherever they land, then one run to the end.
    clip, style = user_files
    vidstyle = Vidstyle(tmp_path / "cache")
    out = tmp_path / "out"
    args = vidstyle.video_args(clip, style, out)
    user_before = tree_sha(clip.parent)
    rng = random.Random(11)
    finished: dict[str, str] = {}
    for _ in range(RANDOM_KILLS):
        proc = vidstyle.start(*args)
        deadline = time.monotonic() + 240
        while not (out / "settings.json").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 2.5))
        kill_group(proc)
        now = _finished(out)
        assert {name: now.get(name) for name in finished} == finished  # earlier frames survived this run
        finished = now
    final = vidstyle.run(*args)
    assert_ok(final)
    after = _finished(out)
    assert {name: after.get(name) for name in finished} == finished
    assert frames_sha(out) == frames_sha(reference) and len(frames_sha(out)) == FRAMES
    assert tree_sha(clip.parent) == user_before
