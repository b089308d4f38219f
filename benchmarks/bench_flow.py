"""Optical flow backends: accuracy against exact ground truth and speed.

Renders known-motion frame pairs from real photos (``../shared/data/photoreal/in*.png``
when present, plus scikit-image's astronaut, coffee and chelsea) with
:func:`flow.synthetic.render_clip`: a small motion (about 2 px pan, 0.5 degree rotation)
and a large, fast one (about 36 px pan + rotation + zoom at 512 px), each with an occluder
moving the other way. Motions are defined at 512 px on the long side and scaled with the
frame size, so both sizes show the same scene. For every backend it reports the mean
end-point error (EPE, pixels) over pixels visible in both frames, the share of those
pixels with EPE > 3 px, and the seconds per flow (one direction, one pair).

Usage::

    .venv/bin/python benchmarks/bench_flow.py --sizes 256 512 --images 3 \\
        --results benchmarks/RESULTS.md

``--results`` replaces the "## Optical flow" section of that file (other sections are
kept) with the table, the exact command and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from results_file import write_section

from flow.backends import estimate_flow
from flow.synthetic import Motion, render_clip

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SECTION = "## Optical flow"
REFERENCE_SIDE = 512  # motions below are in pixels at this long side
MOTIONS = {
    "small": Motion(dx=1.8, dy=-0.9, rotation_deg=0.5, occluder_dx=-2.5, occluder_dy=1.2),
    "large": Motion(
        dx=34.0, dy=-12.0, rotation_deg=2.0, zoom=1.02, occluder_dx=-24.0, occluder_dy=8.0
    ),
}
BACKENDS = {
    "deepflow": ("deepflow", {}),
    "dis ultrafast": ("dis", {"preset": "ultrafast"}),
    "dis fast": ("dis", {"preset": "fast"}),
    "dis medium": ("dis", {"preset": "medium"}),
    "farneback": ("farneback", {}),
    "tvl1": ("tvl1", {}),
}
OUTLIER_PX = 3.0


def load_images(count: int) -> list[tuple[str, np.ndarray]]:
    """Up to ``count`` shared photoreal photos plus three scikit-image photos (RGB)."""
    images = []
    photoreal = sorted(
        (SHARED_DATA / "photoreal").glob("in*.png"), key=lambda p: int(p.stem[2:])
    )
    for path in photoreal[:count]:
        images.append((path.name, np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])))
    for name in ("astronaut", "coffee", "chelsea"):
        images.append((name, getattr(skimage.data, name)()))
    return images


def scaled(motion: Motion, factor: float) -> Motion:
    return replace(
        motion,
        dx=motion.dx * factor,
        dy=motion.dy * factor,
        occluder_dx=motion.occluder_dx * factor,
        occluder_dy=motion.occluder_dy * factor,
    )


def frame_size(image: np.ndarray, long_side: int) -> tuple[int, int]:
    height, width = image.shape[:2]
    factor = long_side / max(height, width)
    return max(8, round(width * factor)), max(8, round(height * factor))


def run(sizes: list[int], n_photoreal: int) -> list[dict]:
    images = load_images(n_photoreal)
    rows = []
    for size in sizes:
        for motion_name, motion in MOTIONS.items():
            clips = [
                render_clip(img, frame_size(img, size), scaled(motion, size / REFERENCE_SIDE))
                for _, img in images
            ]
            magnitude = np.mean(
                [np.linalg.norm(c.flow(0, 1), axis=2)[~c.occluded(0, 1)].mean() for c in clips]
            )
            for label, (method, params) in BACKENDS.items():
                errors, outliers, seconds = [], [], []
                for clip in clips:
                    start = time.perf_counter()
                    flow = estimate_flow(clip.frames[0], clip.frames[1], method=method, **params)
                    seconds.append(time.perf_counter() - start)
                    visible = ~clip.occluded(0, 1)
                    epe = np.linalg.norm(flow - clip.flow(0, 1), axis=2)[visible]
                    errors.append(epe.mean())
                    outliers.append((epe > OUTLIER_PX).mean())
                rows.append(
                    {
                        "size": size,
                        "motion": motion_name,
                        "magnitude": magnitude,
                        "backend": label,
                        "epe": float(np.mean(errors)),
                        "outliers": float(np.mean(outliers)),
                        "seconds": float(np.mean(seconds)),
                        "pairs": len(clips),
                    }
                )
                print(
                    f"{size:4d} {motion_name:5s} {label:14s} EPE {rows[-1]['epe']:6.2f} px  "
                    f">3px {100 * rows[-1]['outliers']:5.1f} %  {rows[-1]['seconds']:6.3f} s",
                    flush=True,
                )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| long side | motion (mean px) | backend | EPE px | EPE > 3 px | s / flow |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['motion']} ({r['magnitude']:.1f}) | {r['backend']} | "
            f"{r['epe']:.2f} | {100 * r['outliers']:.1f} % | {r['seconds']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--images", type=int, default=3, help="photoreal photos to use")
    parser.add_argument("--results", type=Path, help="RESULTS.md to update")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = run(args.sizes, args.images)
    elapsed = time.perf_counter() - started
    if args.results is not None:
        command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
        body = (
            f"{SECTION}\n\n"
            f"Command: `{command}` (from the repository root, `.venv/bin/python`).\n"
            f"Machine: {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), "
            f"shared with other jobs, OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads; "
            f"total {elapsed:.0f} s.\n"
            f"Data: known-motion pairs rendered by `flow.synthetic.render_clip` from "
            f"{rows[0]['pairs']} real photos (shared photoreal in*.png when present, "
            "skimage astronaut/coffee/chelsea), occluder moving the other way; EPE = mean "
            "end-point error over pixels visible in both frames; time = one direction "
            "of one pair, grayscale conversion included.\n\n"
            f"{table(rows)}\n"
        )
        write_section(args.results, SECTION, body)


if __name__ == "__main__":
    main()
