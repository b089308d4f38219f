"""Precision and the other levers on one optimizer step: float32 vs bfloat16, XLA, Gram dtype, threads.

One step is one call of the compiled objective of :class:`vidstyle.stylize.Stylizer`
(loss, named terms and the gradient with respect to the image; default loss: VGG16 to
relu5_1, content relu4_2, style relu1_1 … relu5_1). Each variant runs in a fresh
subprocess (oneDNN and thread-pool settings only take effect before TensorFlow starts)
and saves its loss and gradient at a fixed image, so the parent compares every variant
with float32: relative loss difference and gradient cosine. Content is scikit-image's
``chelsea`` resized to each H×W, the image evaluated is the content plus a fixed
sinusoid (a point away from the content optimum, where the gradient is not tiny), the
style is ``immunohistochemistry``.

Variants
    float32, bfloat16          ``NetSettings.precision``
    … + XLA                    the step compiled with ``tf.function(jit_compile=True)``
    bfloat16, Gram in bfloat16 the Gram products also in bfloat16 (a fused low-precision Gram)
    bfloat16, intra 2 inter 1  thread pools set explicitly
    bfloat16, oneDNN off       ``TF_ENABLE_ONEDNN_OPTS=0``
    … L-BFGS s/iteration       ``Stylizer.optimize`` for ``--iterations`` in-graph L-BFGS
                               iterations (line search included), per precision

Usage (repository root)::

    .venv/bin/python benchmarks/bench_precision.py [--sizes 288x512,436x1024,720x1280] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from results_file import RESULTS, cpu_model, write_section  # benchmarks/ is sys.path[0]

SECTION = "## Precision: bfloat16 and the other step levers"
DEFAULT_SIZES = "288x512,436x1024,720x1280"
#: label → (precision, XLA, Gram in bfloat16, environment, intra-op, inter-op threads)
VARIANTS = {
    "float32": ("float32", False, False, {}, None, None),
    "bfloat16": ("bfloat16", False, False, {}, None, None),
    "float32 + XLA": ("float32", True, False, {}, None, None),
    "bfloat16 + XLA": ("bfloat16", True, False, {}, None, None),
    "bfloat16, Gram in bfloat16": ("bfloat16", False, True, {}, None, None),
    "bfloat16, intra 2 inter 1": ("bfloat16", False, False, {}, 2, 1),
    "bfloat16, oneDNN off": ("bfloat16", False, False, {"TF_ENABLE_ONEDNN_OPTS": "0"}, None, None),
}
MAIN_VARIANTS = ("float32", "bfloat16")  # also timed as whole L-BFGS iterations
WARMUP = 2


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in item.split("x")) for item in text.split(",")]


def _inputs(h: int, w: int):
    import skimage.data

    from vidstyle.images import resize_to

    content = resize_to(skimage.data.chelsea().astype(np.float32) / 255, (h, w))
    style = skimage.data.immunohistochemistry().astype(np.float32) / 255
    ripple = 0.08 * np.sin(np.arange(w) / 3.0)[None, :, None] * np.cos(np.arange(h) / 5.0)[:, None, None]
    return content, style, np.clip(content + ripple, 0, 1).astype(np.float32)


def worker(args) -> None:
    """Measure one variant at every size; write JSON (+ gradients as .npy) into args.out."""
    precision, xla, gram_bf16, _, intra, inter = VARIANTS[args.variant]
    import tensorflow as tf

    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    from vidstyle import losses
    from vidstyle.config import Config, NetSettings, OptimizerSettings
    from vidstyle.stylize import Stylizer

    out = {}
    for h, w in parse_sizes(args.sizes):
        content, style, x = _inputs(h, w)
        config = Config(net=NetSettings(precision=precision), optimizer=OptimizerSettings(tolerance=0.0))
        stylizer = Stylizer([style], config)
        if gram_bf16:
            def gram(features):
                f = tf.cast(features, tf.bfloat16)
                b, hh, ww, c = f.shape
                flat = tf.reshape(f, (b, hh * ww, c))
                g = tf.matmul(flat, flat, transpose_a=True) / tf.cast(hh * ww, tf.bfloat16)
                return tf.cast(g, tf.float32)
            losses_gram, losses.gram_matrix = losses.gram_matrix, gram
        if xla:
            stylizer._step = tf.function(stylizer._loss_and_grad, jit_compile=True)
        evaluate = stylizer.loss_function(content)
        for _ in range(WARMUP):
            evaluate(x)
        times, cpu = [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            loss, terms, grad = evaluate(x)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        record = {"seconds": times, "cpu_seconds": cpu, "loss": loss, "terms": terms}
        np.save(Path(args.out) / f"grad_{h}x{w}.npy", grad)
        if args.variant in MAIN_VARIANTS and args.iterations:
            stylizer.optimize(content, content, iterations=1)  # trace the solver
            result = stylizer.optimize(content, content, iterations=args.iterations)
            record["lbfgs_s_per_iteration"] = result.seconds / result.iterations
            record["lbfgs_iterations"] = result.iterations
        if gram_bf16:
            losses.gram_matrix = losses_gram
        out[f"{h}x{w}"] = record
    (Path(args.out) / "result.json").write_text(json.dumps(out))


def run_variant(label: str, args, folder: Path) -> dict:
    _, _, _, env, _, _ = VARIANTS[label]
    out = folder / label.replace(" ", "_").replace(",", "").replace("+", "plus")
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--worker", label, "--out", str(out), "--sizes", args.sizes,
           "--repeats", str(args.repeats), "--iterations", str(args.iterations)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
                   stdout=subprocess.DEVNULL)
    result = json.loads((out / "result.json").read_text())
    for size in result:
        result[size]["grad"] = np.load(out / f"grad_{size}.npy").ravel()
    print(f"{label}: {time.perf_counter() - started:.0f} s", flush=True)
    return result


def report(results: dict[str, dict], args, seconds: float) -> str:
    sizes = list(next(iter(results.values())))
    base = results["float32"]
    lines = [SECTION, "",
             f"Command: `.venv/bin/python benchmarks/bench_precision.py --sizes {args.sizes} --repeats {args.repeats} "
             f"--iterations {args.iterations} --write` (repository root), "
             f"{datetime.date.today().isoformat()}, {seconds:.0f} s.",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores, CPU flags: "
             f"{', '.join(_bf16_flags()) or 'no native bfloat16'}; TensorFlow "
             f"{_tf_version()}, CPU only. Other jobs may have shared the 2 cores (medians of "
             f"{args.repeats} calls after {WARMUP} warm-ups).", "",
             "s/step: median wall seconds of one loss + gradient evaluation; × f32: speed relative to float32 "
             "at that size; loss Δ: |loss − loss_f32| / loss_f32 at the same image; cos: cosine between the "
             "variant's gradient and float32's; L-BFGS s/it.: whole in-graph L-BFGS iterations (line search "
             "included) from the content.", "",
             "| variant | " + " | ".join(f"{s} s/step (× f32)" for s in sizes) + " | "
             + " | ".join(f"{s} loss Δ / cos" for s in sizes) + " |",
             "|---|" + "---:|" * (2 * len(sizes))]
    for label, res in results.items():
        speed = [f"{statistics.median(res[s]['seconds']):.3f} "
                 f"({statistics.median(base[s]['seconds']) / statistics.median(res[s]['seconds']):.2f}×)"
                 for s in sizes]
        agree = []
        for s in sizes:
            g, g0 = res[s]["grad"], base[s]["grad"]
            cos = float(g @ g0 / (np.linalg.norm(g) * np.linalg.norm(g0)))
            agree.append(f"{abs(res[s]['loss'] - base[s]['loss']) / base[s]['loss']:.2%} / {cos:.4f}")
        lines.append(f"| {label} | " + " | ".join(speed) + " | " + " | ".join(agree) + " |")
    if args.iterations:
        lines += ["", "| precision | " + " | ".join(f"{s} L-BFGS s/it." for s in sizes) + " |",
                  "|---|" + "---:|" * len(sizes)]
        for label in MAIN_VARIANTS:
            lines.append(f"| {label} | " + " | ".join(
                f"{results[label][s]['lbfgs_s_per_iteration']:.3f}" for s in sizes) + " |")
    return "\n".join(lines) + "\n"


def _bf16_flags() -> list[str]:
    from vidstyle.precision import cpu_bfloat16_flags

    return cpu_bfloat16_flags()


def _tf_version() -> str:
    out = subprocess.run([sys.executable, "-c", "import tensorflow as tf; print(tf.__version__)"],
                         capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="H×W list, e.g. 288x512,720x1280")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=10, help="L-BFGS iterations timed per precision (0: skip)")
    parser.add_argument("--variants", default=None, help="labels separated by ; (default: all)")
    parser.add_argument("--write", action="store_true", help=f"replace '{SECTION}' in RESULTS.md")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.variant = args.worker
        worker(args)
        return
    labels = args.variants.split(";") if args.variants else list(VARIANTS)
    if "float32" not in labels:
        labels.insert(0, "float32")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = {label: run_variant(label, args, Path(folder)) for label in labels}
    text = report(results, args, time.perf_counter() - started)
    print(text)
    if args.write:
        write_section(RESULTS, SECTION, text)
        print(f"wrote {RESULTS} ({shlex.quote(SECTION)})")


if __name__ == "__main__":
    main()
