"""Photoreal vs Luan et al.: colour moved and local affinity on the DPST day→sunset pairs.

Usage (repository root)::

    .venv/bin/python benchmarks/bench_photoreal_pairs.py [--pairs 1-30] [--size 256]
        [--iterations N] [--pyramid-iterations N,...] [--write]

For each pair N this runs the photoreal image pipeline exactly as ``vidstyle image inN.png
tarN.png --photoreal --content-masks seg_inN.png --style-mask seg_tarN.png --size SIZE``
(default image preset, library call in one process), then judges our result and Luan et
al.'s published ``luan_resultN.png`` with ``../shared/tools/photocheck.py`` (a subprocess):
``colour_moved`` (share of the Lab mean/std gap between input and style that the output
closes; higher = stronger transfer) and ``affine_residual`` (mean residual of the best local
affine colour fit to the input; lower = more photorealistic). Luan's result is downscaled to
our output size (``cv2.INTER_AREA``) first, so both are judged at the same resolution.

``--write`` replaces the "## Photoreal vs Luan (pairs 1–30)" section of benchmarks/RESULTS.md;
``--cache FILE`` keeps finished pairs so an interrupted run resumes (same settings only).
Without ``../shared`` (data and tool) the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared"
DATA = SHARED / "data" / "photoreal"
PHOTOCHECK = SHARED / "tools" / "photocheck.py"
SECTION = "## Photoreal vs Luan (pairs 1–30)"


def parse_pairs(text: str) -> list[int]:
    """"1-30", "1,2,5" or "1-3,7" → sorted pair numbers."""
    pairs: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        pairs.update(range(int(lo), int(hi or lo) + 1))
    return sorted(pairs)


def data_file(name: str) -> Path:
    """A file of the pair data; a few are stored as a text link ("examples/input/in23.png")."""
    path = DATA / name
    if path.stat().st_size < 512:
        target = path.read_bytes().decode("utf-8", "replace").strip()
        if target.lower().endswith((".png", ".jpg")) and (DATA / Path(target).name).is_file():
            return DATA / Path(target).name
    return path


def photocheck(output: Path, content: Path, style: Path) -> tuple[float, float]:
    """(affine_residual, colour_moved) of ``output`` by the shared judge."""
    out = subprocess.run([sys.executable, str(PHOTOCHECK), str(output), str(content), str(style)],
                         capture_output=True, text=True, check=True).stdout
    values = dict(item.split("=") for item in out.split())
    return float(values["affine_residual"]), float(values["colour_moved"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="1-30", help="pair numbers, e.g. 1-30 or 1,2,6 (default 1-30)")
    parser.add_argument("--size", type=int, default=256, help="long side in pixels (default 256)")
    parser.add_argument("--iterations", type=int, default=None, help="full-size budget (default: the preset's)")
    parser.add_argument("--pyramid-iterations", default=None,
                        help="coarser levels' budgets, comma-separated (default: the preset's)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="JSON file of finished pairs: reused when the settings match, so a long run resumes")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    if not (DATA / "in1.png").is_file() or not PHOTOCHECK.is_file():
        print(f"skipped: needs {DATA} and {PHOTOCHECK} (shared data, not in the repository)")
        return

    import cv2
    import numpy as np
    import tensorflow as tf

    from benchmarks.results_file import RESULTS, cpu_model, write_section
    from vidstyle.cli.image import DEFAULT_IMAGE_PRESET
    from vidstyle.config import build_config, load_preset, merge
    from vidstyle.images import load_image, save_image
    from vidstyle.photoreal import stylize_photoreal_image
    from vidstyle.regions import MaskOptions
    from vidstyle.stylize import load_style_images

    optimizer = {"iterations": args.iterations}
    if args.pyramid_iterations:
        optimizer["pyramid_iterations"] = [int(v) for v in args.pyramid_iterations.split(",")]
    config = build_config(merge(load_preset(DEFAULT_IMAGE_PRESET),
                                {"size": args.size, "optimizer": optimizer, "photoreal": {"enabled": True}}))
    # Resume: rows of an earlier run with the same settings (the whole config) are reused.
    fingerprint = repr(config)
    cached: dict[str, dict] = {}
    if args.cache and args.cache.is_file():
        saved = json.loads(args.cache.read_text())
        cached = saved["rows"] if saved.get("settings") == fingerprint else {}
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in parse_pairs(args.pairs):
            if str(n) in cached:
                rows.append(cached[str(n)])
                continue
            content_path, style_path = data_file(f"in{n}.png"), data_file(f"tar{n}.png")
            content = load_image(content_path, max_side=config.size)
            styles = load_style_images([style_path], content.shape[:2])
            masks = MaskOptions(content_masks=str(data_file(f"seg_in{n}.png")),
                                style_mask=str(data_file(f"seg_tar{n}.png")))
            t0 = time.perf_counter()
            result = stylize_photoreal_image(content, styles, config, masks)
            seconds = time.perf_counter() - t0
            ours = Path(tmp) / f"ours{n}.png"
            save_image(ours, result.image)
            theirs = Path(tmp) / f"luan{n}.png"
            luan = cv2.imread(str(data_file(f"luan_result{n}.png")), cv2.IMREAD_COLOR)
            cv2.imwrite(str(theirs), cv2.resize(luan, result.image.shape[1::-1], interpolation=cv2.INTER_AREA))
            row = dict(pair=n, seconds=seconds, w=result.image.shape[1], h=result.image.shape[0])
            row["ours_res"], row["ours_moved"] = photocheck(ours, content_path, style_path)
            row["luan_res"], row["luan_moved"] = photocheck(theirs, content_path, style_path)
            rows.append(row)
            if args.cache:
                cached[str(n)] = row
                args.cache.write_text(json.dumps({"settings": fingerprint, "rows": cached}, indent=1))
            print(f"pair {n:2d}: colour moved {row['ours_moved']:.3f} (Luan {row['luan_moved']:.3f}), "
                  f"affine residual {row['ours_res']:.4f} (Luan {row['luan_res']:.4f}), {seconds:.0f} s", flush=True)
    elapsed = time.perf_counter() - start
    load_after = os.getloadavg()

    # A pair whose style is its own input (tar23 links to in23) has no colour gap to close:
    # colour moved divides by ~0 there, so it is left out of the colour means and counts.
    def own_input(n: int) -> bool:
        return data_file(f"tar{n}.png") == data_file(f"in{n}.png")

    lines = ["| pair | W×H | colour moved, ours | Luan | affine residual, ours | Luan | s |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        moved = ("n/a (style = input)", "n/a") if own_input(r["pair"]) else \
            (f"{r['ours_moved']:.3f}", f"{r['luan_moved']:.3f}")
        lines.append(f"| {r['pair']} | {r['w']}×{r['h']} | {moved[0]} | {moved[1]} | "
                     f"{r['ours_res']:.4f} | {r['luan_res']:.4f} | {r['seconds']:.0f} |")
    coloured = [r for r in rows if not own_input(r["pair"])]
    mean = {k: float(np.mean([r[k] for r in coloured])) for k in ("ours_moved", "luan_moved")}
    mean.update({k: float(np.mean([r[k] for r in rows])) for k in ("ours_res", "luan_res", "seconds")})
    lines.append(f"| **mean** | | **{mean['ours_moved']:.3f}** | **{mean['luan_moved']:.3f}** | "
                 f"**{mean['ours_res']:.4f}** | **{mean['luan_res']:.4f}** | {mean['seconds']:.0f} |")
    moved_wins = sum(r["ours_moved"] >= r["luan_moved"] for r in coloured)
    res_wins = sum(r["ours_res"] <= r["luan_res"] for r in rows)
    both = sum(r["ours_moved"] >= r["luan_moved"] and r["ours_res"] <= r["luan_res"] for r in coloured)
    summary = (f"Pairs where ours moved colours at least as far as Luan's: {moved_wins}/{len(coloured)}; "
               f"affine residual at most Luan's: {res_wins}/{len(rows)}; both: {both}/{len(coloured)} "
               f"(colour means and counts leave out the {len(rows) - len(coloured)} pair(s) whose style is "
               "the input itself).")
    table = "\n".join(lines)
    print(table)
    print(summary)

    p, o = config.photoreal, config.optimizer
    argv = sys.argv[1:]
    if "--cache" in argv:  # where a resumed run kept its rows is no part of the recipe
        del argv[argv.index("--cache"):argv.index("--cache") + 2]
    command = ".venv/bin/python " + shlex.join(["benchmarks/bench_photoreal_pairs.py", *argv])
    body = (
        f"{SECTION}\n\n"
        f"Command (repository root): `{command}`\n"
        f"Date: {datetime.date.today().isoformat()}; stylization {sum(r['seconds'] for r in rows):.0f} s "
        f"over all pairs ({elapsed:.0f} s in this run).\n"
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, no GPU (TensorFlow {tf.__version__} on CPU), "
        f"Python {platform.python_version()}; load average {load_before[0]:.1f} at the start and "
        f"{load_after[0]:.1f} at the end (cores shared with other jobs: seconds are upper bounds).\n"
        f"Data: ../shared/data/photoreal inN/tarN with their DPST masks seg_inN/seg_tarN and Luan et al.'s "
        f"luan_resultN (downscaled to our size, INTER_AREA), judged by ../shared/tools/photocheck.py.\n"
        f"Settings: preset `{DEFAULT_IMAGE_PRESET}`, long side {config.size}, pyramid {o.pyramid} "
        f"(iterations {', '.join(map(str, o.level_iterations(o.iterations)))} coarse → fine, early stop "
        f"{o.tolerance:g} over {o.window}), photoreal λ = {p.matting_weight:g}, ε = {p.epsilon:g}, stage-1 "
        f"fraction {p.stage1_fraction:g}, style weight {config.loss.style_weight:g} × {p.style_weight_scale:g}, "
        f"recolour init {'on' if p.recolor_init else 'off'} (whole-image share {p.recolor_shared:g}, edge σ "
        f"{p.recolor_blur:g} of the long side), smoothing {'on' if p.smooth else 'off'}.\n"
        "Colour moved: share of the Lab mean/std gap between input and style closed by the output "
        "(higher = stronger). Affine residual: mean residual of the best local 5×5 affine colour fit "
        "to the input (lower = more photorealistic).\n\n"
        f"{table}\n\n{summary}\n"
    )
    if args.write:
        write_section(RESULTS, SECTION, body)
        print(f"updated {RESULTS}")


if __name__ == "__main__":
    main()
