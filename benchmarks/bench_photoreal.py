"""Photoreal benchmark: seconds per frame, and temporal error of photoreal video vs per-frame.

Usage (repository root)::

    .venv/bin/python benchmarks/bench_photoreal.py [--sizes 96 160] [--frames 4] [--iterations 20]

Data: ../shared/data/photoreal/in1.png (+ tar1, seg masks); the known-motion clip is rendered
from in1.png with flow.synthetic.render_clip (exact forward flow and occlusion). The Matting
Laplacian build time is in RESULTS.md "Matting Laplacian" (bench_matting.py) and is not repeated.
Temporal error: Huang et al. eq. 8 (DESIGN.md "Evaluation") with the ground-truth flow t → t+1,
c = 0 where occluded.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import cv2

from flow.synthetic import Motion, render_clip
from vidstyle.config import Config, OptimizerSettings, PhotorealSettings
from vidstyle.evaluate import temporal_error
from vidstyle.images import load_image
from vidstyle.photoreal import stylize_photoreal_image
from vidstyle.regions import MaskOptions
from vidstyle.video import VideoJob, render_video

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photoreal"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 160])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    if not (DATA / "in1.png").is_file():
        raise SystemExit(f"needs {DATA} (shared data)")
    rows = []
    for size in args.sizes:
        content, style = load_image(DATA / "in1.png", max_side=size), load_image(DATA / "tar1.png", max_side=size)
        masks = MaskOptions(content_masks=str(DATA / "seg_in1.png"), style_mask=str(DATA / "seg_tar1.png"))
        config = Config(size=size, optimizer=OptimizerSettings(iterations=args.iterations, tolerance=0),
                        photoreal=PhotorealSettings(enabled=True))
        start = time.perf_counter()
        stylize_photoreal_image(content, [style], config, masks)
        rows.append((size, content.shape[1], content.shape[0], time.perf_counter() - start))
        print(f"size {size}: {rows[-1][3]:.1f} s/frame", flush=True)

    size = args.sizes[0]
    photo = cv2.cvtColor(cv2.imread(str(DATA / "in1.png")), cv2.COLOR_BGR2RGB)
    h = round(size * photo.shape[0] / photo.shape[1])
    clip = render_clip(photo, (size, h), Motion(dx=1.5, dy=0.5, occluder_size=0.0), args.frames)
    errors = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clip"
        folder.mkdir()
        for k, frame in enumerate(clip.frames):
            cv2.imwrite(str(folder / f"f{k + 1}.png"), frame[..., ::-1])
        for name, temporal in (("photoreal video (warped init + temporal loss)", 2e4),
                               ("per-frame photoreal (independent)", None)):
            config = Config(size=size, optimizer=OptimizerSettings(iterations=args.iterations, tolerance=0),
                            photoreal=PhotorealSettings(enabled=True))
            out = Path(tmp) / name.split()[0]
            if temporal is None:
                cfg = config
                frames = []
                for k in range(args.frames):
                    content = load_image(folder / f"f{k + 1}.png")
                    frames.append(stylize_photoreal_image(content, [load_image(DATA / "tar1.png", max_side=size)],
                                                          cfg, None).image)
            else:
                job = VideoJob(source=folder, styles=(DATA / "tar1.png",), output=out, encode=False,
                               cache_dir=Path(tmp) / "cache", jobs=1)
                result = render_video(job, config)
                frames = [load_image(p) for p in result.frames]
            errors[name] = temporal_error(frames, args.frames,
                                          lambda t: (clip.flow(t, t + 1), 1.0 - clip.occluded(t, t + 1)))
            print(f"{name}: {errors[name]:.4f}", flush=True)
    print("| long side | frame (W×H) | s / frame |")
    print("|---:|---|---:|")
    for size, w, hh, sec in rows:
        print(f"| {size} | {w}×{hh} | {sec:.1f} |")
    print("| run | temporal error |")
    print("|---|---:|")
    for name, err in errors.items():
        print(f"| {name} | {err:.4f} |")
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")


if __name__ == "__main__":
    main()
