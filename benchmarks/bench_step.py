"""Optimizer step speed: seconds per step and achieved GFLOP/s of the VGG forward+backward.

One optimizer step is one call of the objective built by
:meth:`vidstyle.stylize.Stylizer.loss_function` (default :class:`~vidstyle.config.Config`:
VGG16 up to ``relu5_1``, content ``relu4_2``, style ``relu1_1 … relu5_1``): loss, named
terms and the gradient with respect to the image. A short real
:meth:`~vidstyle.stylize.Stylizer.optimize` run (scipy L-BFGS-B) gives the whole-step time
including the optimizer's own work. Content is scikit-image's ``chelsea``, style its
``immunohistochemistry``, both resized to each working size ``H×W``.

Achieved GFLOP/s = useful FLOPs / seconds, with FLOPs counted analytically from the layers
the net runs (``Stylizer.net.sequence``; see :func:`count_flops`). The practical ceiling is
the best float32 ``tf.linalg.matmul`` rate (2048² and 4096², best of several) measured in
the same process just before.

Every configuration runs in a fresh subprocess, because ``TF_ENABLE_ONEDNN_OPTS`` and the
thread-pool sizes only take effect before TensorFlow initializes. The default run measures
every size; the variants (oneDNN off, thread settings) re-measure the middle size only.

The CPU is shared, so before each measurement the script waits (up to ``--max-wait``
seconds in all) until other processes use less than ``--quiet-cores`` cores, sampled
from ``/proc/stat`` over one second while this process is idle. The 1-minute load
average is printed too, but it also counts this benchmark's own previous measurement,
so it is not what the wait tests.

Usage::

    .venv/bin/python benchmarks/bench_step.py [--sizes 128x256,218x512,436x1024] \\
        [--repeats 5] [--write benchmarks/RESULTS.md]

``--write`` replaces the "## Optimizer step speed" section of that file (every other
section is kept) with the tables, the exact command and the machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import cpu_model, write_section  # benchmarks/ is sys.path[0]

SECTION = "## Optimizer step speed"
DEFAULT_SIZES = "128x256,218x512,436x1024"
KERNEL_TAPS = 3 * 3  # every VGG conv is 3×3, stride 1, "SAME" (Simonyan & Zisserman 2015)
MATMUL_REPEATS = {2048: 5, 4096: 3}  # side → timed products (best of), after one warm-up
WARMUP_CALLS = 2
TARGET_SHARE = 0.80  # issue target: ≥ 80 % of the matmul ceiling on CPU
SPEEDUP_WORTH = 0.05  # a setting must be at least this much faster to be recommended
#: name → (environment overrides, intra-op threads, inter-op threads); None = TF default.
VARIANTS = {
    "default (oneDNN on, TF thread defaults)": ({}, None, None),
    "TF_ENABLE_ONEDNN_OPTS=0": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, None, None),
    "intra_op 2, inter_op 1": ({}, 2, 1),
    "intra_op 1, inter_op 1": ({}, 1, 1),
    "TF_ENABLE_ONEDNN_OPTS=0, intra_op 2, inter_op 1": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, 2, 1),
}
DEFAULT_VARIANT = next(iter(VARIANTS))


# ---- machine and load ------------------------------------------------------------------
def _cpu_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds over all cores since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / hz, sum(fields[:8]) / hz


class CpuMeter:
    """Cores used by *other* processes while a block of our work runs."""

    def __enter__(self):
        self._busy, _ = _cpu_busy_seconds()
        self._own = sum(os.times()[:2])
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy, _ = _cpu_busy_seconds()
        own = sum(os.times()[:2])
        wall = time.perf_counter() - self._wall
        self.other_cores = max(0.0, (busy - self._busy) - (own - self._own)) / wall
        return False


class LoadGate:
    """Waits for a quiet CPU before each measurement, within one total time budget."""

    def __init__(self, quiet_cores: float, max_wait: float, poll: float = 15.0):
        self.quiet_cores, self.budget, self.poll = quiet_cores, max_wait, poll
        self.waited = 0.0

    def wait(self, what: str) -> dict:
        """Block until others use < quiet_cores (or the budget is spent); report the load."""
        while True:
            with CpuMeter() as meter:
                time.sleep(1.0)
            other = meter.other_cores
            if other < self.quiet_cores or self.waited >= self.budget:
                break
            nap = min(self.poll, self.budget - self.waited)
            print(f"  {what}: other processes use {other:.2f} cores, "
                  f"load avg {os.getloadavg()[0]:.2f}; waiting {nap:.0f} s", file=sys.stderr)
            time.sleep(nap)
            self.waited += nap + 1.0
        return {"loadavg": [round(v, 2) for v in os.getloadavg()], "other_before": round(other, 2)}


# ---- FLOP counting ----------------------------------------------------------------------
def count_flops(net, style_layers, shape_hw: tuple[int, int]) -> dict[str, float]:
    """Useful FLOPs of one loss+gradient evaluation at image size ``shape_hw``.

    Walks the layers the net runs (``net.sequence``) on a zero image to read every
    activation's shape. A multiply-add counts as 2 FLOPs.

    * conv forward: ``2·h·w·C_in·C_out·9`` per layer, at its output grid (stride 1, SAME).
    * conv backward: the kernels are ``tf.constant``, so only the gradient with respect to
      the layer input is taken (``Conv2DBackpropInput``, the same multiply-adds as the
      forward); no filter gradients. conv1_1's input gradient is included: it is the
      gradient with respect to the image, which is what the optimizer needs.
    * Gram ``FᵀF`` (F: h·w × C) per style layer: ``2·h·w·C²`` forward; its backward is two
      such products (TensorFlow's MatMul gradient for both operands, which are the same F).

    Bias adds, ReLUs, poolings, the loss reductions and their gradients are not counted:
    they are memory-bound and under 1 % of the arithmetic.
    """
    import tensorflow as tf

    feats = net(tf.zeros((1, *shape_hw, 3), tf.float32), net.sequence)
    conv, channels = 0.0, 3
    for name in net.sequence:
        _, h, w, c = feats[name].shape
        if name.startswith("conv"):
            conv += 2.0 * h * w * channels * c * KERNEL_TAPS
        channels = c
    gram = sum(2.0 * feats[k].shape[1] * feats[k].shape[2] * feats[k].shape[3] ** 2 for k in style_layers)
    return {"conv_fwd": conv, "gram_fwd": gram, "forward": conv + gram, "step": 2 * conv + 3 * gram}


# ---- worker: one configuration in this process ------------------------------------------
def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        try:
            h, w = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"size {item!r} is not HxW, e.g. 218x512") from None
        if h < 32 or w < 32:
            raise argparse.ArgumentTypeError(f"size {item!r}: both sides must be ≥ 32 for VGG's poolings")
        sizes.append((h, w))
    return sizes


def _time_calls(fn, repeats: int, warmup: int = WARMUP_CALLS) -> dict[str, list[float]]:
    """Wall seconds and this process's CPU seconds (all threads) of each timed call."""
    for _ in range(warmup):
        fn()
    times = {"wall": [], "cpu": []}
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        times["wall"].append(time.perf_counter() - wall)
        times["cpu"].append(time.process_time() - cpu)
    return times


def matmul_rates(tf, with_numpy: bool) -> dict[str, dict[str, float]]:
    """Best float32 GFLOP/s (wall) and GFLOP per CPU-second per side, TF (and numpy)."""
    rates = {"tf": {}, "tf_cpu": {}, "numpy": {}}
    for n, repeats in MATMUL_REPEATS.items():
        flops = 2.0 * n**3 / 1e9
        a = tf.random.stateless_normal((n, n), seed=(1, 2))
        b = tf.random.stateless_normal((n, n), seed=(3, 4))
        times = _time_calls(lambda a=a, b=b: tf.linalg.matmul(a, b).numpy(), repeats, warmup=1)
        rates["tf"][str(n)] = flops / min(times["wall"])
        rates["tf_cpu"][str(n)] = flops / min(times["cpu"])
        if with_numpy:
            a, b = a.numpy(), b.numpy()
            times = _time_calls(lambda a=a, b=b: a @ b, repeats, warmup=1)
            rates["numpy"][str(n)] = flops / min(times["wall"])
    return rates


def measure_ceiling(tf, gate: LoadGate, when: str, with_numpy: bool) -> dict:
    load = gate.wait(f"matmul ceiling ({when})")
    with CpuMeter() as meter:
        rates = matmul_rates(tf, with_numpy)
    return {"when": when, **rates, **load, "other_during": meter.other_cores}


#: op type (profiler display name) → category of the per-op breakdown, first match wins.
OP_CATEGORIES = (("BackpropFilter", "conv filter grad"), ("BackpropInput", "conv input grad"),
                 ("Conv2D", "conv forward"), ("MatMul", "Gram matmul"))
OTHER_OPS = "other ops"


def profile_ops(fn) -> dict:
    """Summed op time (ms) and count per category over one traced call of ``fn``.

    Reads the TensorFlow profiler's XPlane trace of the executor threads (``tf_Compute``);
    ops that overlap in time (inter-op parallelism) are each counted in full.
    """
    import tensorflow as tf

    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError as error:  # the proto moved between releases
        return {"error": str(error)}
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            fn()
        finally:
            tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    out = {}
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                op_type = plane.event_metadata[event.metadata_id].display_name
                if not op_type:  # executor bookkeeping, allocations
                    continue
                category = next((c for key, c in OP_CATEGORIES if key in op_type), OTHER_OPS)
                entry = out.setdefault(category, {"ms": 0.0, "count": 0})
                entry["ms"] += event.duration_ps / 1e9
                entry["count"] += 1
    return out


def quiet_profile(fn, gate: LoadGate, what: str, tries: int = 3) -> tuple[dict, float]:
    """:func:`profile_ops` of one call and the other jobs' cores meanwhile.

    Retried while other jobs took CPU; the trace with the least summed op time is kept.
    """
    best = None
    for _ in range(tries):
        gate.wait(what)
        with CpuMeter() as meter:
            ops = profile_ops(fn)
        if "error" in ops:
            return ops, meter.other_cores
        total = sum(v["ms"] for v in ops.values())
        if best is None or total < best[0]:
            best = (total, ops, meter.other_cores)
        if meter.other_cores <= gate.quiet_cores:
            break
    return best[1], best[2]


def run_worker(sizes, repeats: int, iterations: int, gate: LoadGate, full: bool) -> dict:
    """Measure the ceiling and every size in this process; return plain numbers."""
    import numpy as np
    import skimage.data
    import tensorflow as tf

    from vidstyle.config import Config
    from vidstyle.images import resize_to
    from vidstyle.stylize import Stylizer

    class CountingStylizer(Stylizer):
        """Counts objective evaluations and their time, to separate L-BFGS-B's own work."""

        evaluations, objective_seconds = 0, 0.0

        def loss_function(self, content, temporal=()):
            inner = super().loss_function(content, temporal)

            def evaluate(x):
                start = time.perf_counter()
                try:
                    return inner(x)
                finally:
                    self.evaluations += 1
                    self.objective_seconds += time.perf_counter() - start

            return evaluate

    content = skimage.data.chelsea().astype(np.float32) / 255.0
    style = skimage.data.immunohistochemistry().astype(np.float32) / 255.0
    stylizer = CountingStylizer([style], Config())
    layers = (stylizer.loss.content_layer, *stylizer.loss.style_layers)
    forward = tf.function(lambda x: stylizer.net(x[None], layers), reduce_retracing=True)

    out = {"tf": tf.__version__, "ceilings": [measure_ceiling(tf, gate, "before", full)], "sizes": []}
    for h, w in sizes:
        image = resize_to(content, (h, w))
        step = stylizer.loss_function(image)
        flops = count_flops(stylizer.net, stylizer.loss.style_layers, (h, w))
        load = gate.wait(f"{h}x{w}")
        row = {"size": [h, w], "flops": flops, **load}
        with CpuMeter() as meter:
            row["step"] = _time_calls(lambda step=step, image=image: step(image), repeats)
        row["other_during"] = meter.other_cores
        if full:
            x = tf.constant(image)
            row["forward"] = _time_calls(
                lambda x=x: [v.numpy() for v in forward(x).values()], repeats)
            row["ops"], row["ops_other_cores"] = quiet_profile(
                lambda step=step, image=image: step(image), gate, f"{h}x{w} profile")
            stylizer.evaluations, stylizer.objective_seconds = 0, 0.0
            result = stylizer.optimize(image, image, iterations=iterations)
            row["optimize"] = {"seconds": result.seconds, "iterations": result.iterations,
                               "evaluations": stylizer.evaluations,
                               "objective_seconds": stylizer.objective_seconds}
        out["sizes"].append(row)
        print(f"  {h}x{w}: median {statistics.median(row['step']['wall']):.3f} s/step", file=sys.stderr)
    if full:  # a second ceiling, in case the first caught other jobs
        out["ceilings"].append(measure_ceiling(tf, gate, "after", full))
    out["ceiling"] = max(max(c["tf"].values()) for c in out["ceilings"])
    out["ceiling_cpu"] = max(max(c["tf_cpu"].values()) for c in out["ceilings"])
    return out


# ---- driver: run configurations in subprocesses, build the report -----------------------
def run_variant(name: str, sizes: str, args, wait_left: float, full: bool | None = None) -> dict:
    """Run one configuration in a fresh worker process; its JSON result (or an error)."""
    env_overrides, intra, inter = VARIANTS[name]
    command = [sys.executable, __file__, "--worker", "--sizes", sizes, "--repeats", str(args.repeats),
               "--iterations", str(args.iterations), "--max-wait", str(max(0.0, wait_left)),
               "--quiet-cores", str(args.quiet_cores)]
    if intra is not None:
        command += ["--intra", str(intra), "--inter", str(inter)]
    if full if full is not None else name == DEFAULT_VARIANT:
        command.append("--full")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env_overrides}
    print(f"{name}: {sizes}", file=sys.stderr)
    for attempt in (1, 2):  # a second try survives a source file caught mid-edit
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
        if done.returncode == 0:
            return json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: worker failed (exit {done.returncode}, try {attempt})", file=sys.stderr)
    return {"error": f"worker exit {done.returncode}", "waited": 0.0}


def _span(values: list[float]) -> str:
    low, high = f"{min(values):.0f}", f"{max(values):.0f}"
    return low if low == high else f"{low}–{high}"


def _median(times: dict[str, list[float]], kind: str = "wall") -> float:
    return statistics.median(times[kind])


def variant_speeds(results: dict[str, dict]) -> dict[str, float]:
    """Speed of each measured setting relative to the default, at the size the variants ran."""
    base = results[DEFAULT_VARIANT]
    speeds = {}
    for name, res in results.items():
        if res is base or "error" in res:
            continue
        row = res["sizes"][0]
        ref = next(r for r in base["sizes"] if r["size"] == row["size"])
        speeds[name] = _median(ref["step"]) / _median(row["step"])
    return speeds


def op_breakdown(rows: list[dict]) -> list[str]:
    """Markdown lines: share of op time and GFLOP/s per op category, per size."""
    rows = [r for r in rows if "ops" in r and "error" not in r["ops"]]
    if not rows:
        return []
    categories = [c for _, c in OP_CATEGORIES] + [OTHER_OPS]
    flops = {"conv forward": "conv_fwd", "conv input grad": "conv_fwd", "Gram matmul": "gram_fwd"}
    factor = {"Gram matmul": 3}
    lines = ["", "**Where the time goes**: one traced step per size (TensorFlow profiler, op time "
             "summed on the executor threads; the conv bias and ReLU are fused into the forward conv). "
             "Each cell: share of summed op time, count, and GFLOP/s of that category "
             "(its FLOPs / its summed time). Where the summed op time exceeds the step's wall time, "
             "independent ops (the Gram branches beside the conv chain) ran concurrently and shared "
             "the cores, so these rates are lower bounds.", "",
             "| H×W | summed op ms | " + " | ".join(categories) + " | other cores |",
             "|---|---|" + "---|" * len(categories) + "---|"]
    for row in rows:
        total = sum(v["ms"] for v in row["ops"].values())
        cells = []
        for category in categories:
            entry = row["ops"].get(category, {"ms": 0.0, "count": 0})
            cell = f"{100 * entry['ms'] / total:.0f} % ({entry['count']})"
            if category in flops and entry["ms"] > 0:
                work = factor.get(category, 1) * row["flops"][flops[category]]
                cell += f", {work / entry['ms'] / 1e6:.0f} GFLOP/s"
            cells.append(cell)
        lines.append(f"| {row['size'][0]}×{row['size'][1]} | {total:.0f} | " + " | ".join(cells)
                     + f" | {row.get('ops_other_cores', float('nan')):.2f} |")
    return lines


def ab_verdict(ab: list[dict]) -> str:
    """Whether the fastest setting beat the default in every alternating round, per size."""
    rounds = [r for r in ab if len(r) == 2 and DEFAULT_VARIANT in r]
    if not rounds:
        return ("Verdict: no alternating re-check was run; single-process differences of a few per cent "
                "are within run-to-run drift, so keep TensorFlow's defaults unless one is far ahead.")
    best = next(n for n in rounds[0] if n != DEFAULT_VARIANT)
    parts, wins = [], []
    for size in rounds[0][DEFAULT_VARIANT]:
        ratios = [r[DEFAULT_VARIANT][size] / r[best][size] for r in rounds]
        parts.append(f"{size}: " + ", ".join(f"{v:.2f}×" for v in ratios))
        if min(ratios) >= 1 + SPEEDUP_WORTH / 2 and statistics.median(ratios) >= 1 + SPEEDUP_WORTH:
            wins.append(size)
    plural = "s" if len(rounds) > 1 else ""
    text = (f"Re-check, default and `{best}` alternating in fresh processes ({len(rounds)} round{plural}), "
            f"speed of `{best}` per round — " + "; ".join(parts) + ". Verdict: ")
    if len(wins) == len(rounds[0][DEFAULT_VARIANT]):
        return text + f"`{best}` is consistently faster (≥ {100 * SPEEDUP_WORTH:.0f} %) and worth setting."
    if wins:
        return text + (f"`{best}` is consistently faster only at {', '.join(wins)}; a small, size-dependent gain, "
                       "not a clear win.")
    return text + (f"no consistent gain ≥ {100 * SPEEDUP_WORTH:.0f} %: keep TensorFlow's defaults "
                   "(oneDNN on, default thread pools).")


def target_text(met: list[str], missed: list[str]) -> str:
    if not missed:
        return "met at every size."
    if not met:
        return "missed at every size."
    return f"met at {', '.join(met)}; missed at {', '.join(missed)}."


def summary(run: dict) -> list[str]:
    """Markdown bullets: target met or not, where the gap is, which setting to use."""
    results, quiet = run["results"], run.get("quiet_cores", 0.3)
    base = results[DEFAULT_VARIANT]
    ceiling = base["ceiling"]
    lines = ["**Summary**", ""]
    parts, met, missed, shares = [], [], [], []
    for row in base["sizes"]:
        size = f"{row['size'][0]}×{row['size'][1]}"
        share = row["flops"]["step"] / _median(row["step"]) / 1e9 / ceiling
        (met if share >= TARGET_SHARE else missed).append(size)
        shares.append(share)
        flag = " (contended)" if row["other_during"] > quiet else ""
        parts.append(f"{size}: {_median(row['step']):.2f} s/step, {100 * share:.0f} %{flag}")
    lines.append(f"- Achieved share of the {ceiling:.0f} GFLOP/s TF matmul ceiling — " + "; ".join(parts)
                 + f". Target ≥ {100 * TARGET_SHARE:.0f} %: " + target_text(met, missed))
    if any(r["other_during"] > quiet for r in base["sizes"]) or any(
            c["other_during"] > quiet for c in base["ceilings"]):
        lines.append(f"- Some timings ran while other processes used > {quiet} cores (see 'other cores'); "
                     "their wall-clock rates are low, the per-CPU-second shares less so.")
    profiled = [r for r in base["sizes"] if "ops" in r and "error" not in r["ops"]]
    if profiled:
        def rates(category, key, factor=1):
            values = [factor * r["flops"][key] / r["ops"][category]["ms"] / 1e6
                      for r in profiled if r["ops"].get(category, {}).get("ms")]
            return _span(values) if values else "n/a"

        small = profiled[0]
        other = [100 * r["ops"].get(OTHER_OPS, {"ms": 0})["ms"] / sum(v["ms"] for v in r["ops"].values())
                 for r in profiled]
        lines.append(
            "- Where the gap is (profile below; ranges over the sizes): the input-gradient convs run at "
            f"{rates('conv input grad', 'conv_fwd')} GFLOP/s; the forward convs (bias and ReLU fused in, "
            f"plus the 3-channel conv1_1 and the small deep grids) at {rates('conv forward', 'conv_fwd')}; "
            f"the Gram products (tall h·w×C, run beside the convs) at {rates('Gram matmul', 'gram_fwd', 3)}; "
            "and memory-bound ops with no counted FLOPs (TV and loss terms, ReLU/pool gradients, slicing) "
            f"take {_span(other)} % of op time."
            + (f" The smallest size loses most: its deep layers run on tiny grids (conv5_1 at "
               f"{small['size'][0] // 16}×{small['size'][1] // 16})." if shares[0] < min(shares[1:], default=1) - 0.02
               else ""))
    optimized = [r for r in base["sizes"] if r.get("optimize", {}).get("iterations")]
    if optimized:
        parts, own_shares = [], []
        for r in optimized:
            opt = r["optimize"]
            own = (opt["seconds"] - opt["objective_seconds"]) / opt["iterations"]
            own_shares.append(own * opt["iterations"] / opt["seconds"])
            parts.append(f"{r['size'][0]}×{r['size'][1]}: {own:.2f} of {opt['seconds'] / opt['iterations']:.2f} "
                         f"s/iteration ({100 * own_shares[-1]:.0f} %)")
        calls = sum(r["optimize"]["evaluations"] for r in optimized) / sum(
            r["optimize"]["iterations"] for r in optimized)
        weight = "not negligible" if max(own_shares) >= 0.10 else "small"
        lines.append("- Whole step: scipy's bounded L-BFGS-B itself (time outside the objective) takes "
                     + "; ".join(parts) + f"; an iteration averages {calls:.1f} objective calls (line search). "
                     f"The optimizer's own work is {weight} at these sizes.")
    speed = variant_speeds(results)
    if speed:
        size = next(r for r in results.values() if r is not base and "error" not in r)["sizes"][0]["size"]
        listed = "; ".join(f"{n}: {v:.2f}×" for n, v in speed.items())
        lines.append(f"- Settings, one process each at {size[0]}×{size[1]}, speed relative to the default: "
                     f"{listed}.")
        lines.append("- " + ab_verdict(run.get("ab", [])))
        mid = base["sizes"][len(base["sizes"]) // 2]
        key = f"{mid['size'][0]}×{mid['size'][1]}"
        again = [_median(mid["step"])] + [r[DEFAULT_VARIANT][key] for r in run.get("ab", [])
                                          if key in r.get(DEFAULT_VARIANT, {})]
        if len(again) > 1:
            lines.append(f"- Drift: the default alone at {key} measured " + ", ".join(f"{v:.3f}" for v in again)
                         + f" s/step in {len(again)} processes of this run (spread "
                         f"{100 * (max(again) / min(again) - 1):.0f} %); smaller differences between settings "
                         "are noise.")
    return lines


def format_report(run: dict) -> str:
    """The markdown section for one run (as saved by ``--raw``)."""
    results = run["results"]
    base = results[DEFAULT_VARIANT]
    ceiling, ceiling_cpu = base["ceiling"], base["ceiling_cpu"]
    sides = list(MATMUL_REPEATS)
    lines = [
        SECTION, "",
        f"Command: `{run['command']}` (from the repository root, `.venv/bin/python`), {run['date']}, "
        f"total {run['elapsed']:.0f} s ({run['waited']:.0f} s of it waiting for a quiet CPU).",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores shared with other jobs, TensorFlow {base['tf']} "
        f"(CPU, float32), Python {platform.python_version()}.",
        "Workload: default `Config()` (VGG16 to relu5_1; content relu4_2; style relu1_1…relu5_1), "
        "content `skimage.data.chelsea`, style `skimage.data.immunohistochemistry`, resized to H×W.",
        "",
        *summary(run),
        "",
        "**Matmul ceiling**: float32 `tf.linalg.matmul` of two n×n matrices, best of "
        + ", ".join(f"{r} for n = {n}" for n, r in MATMUL_REPEATS.items())
        + " after a warm-up, in the same process before and after the step timings. Ceiling = best of "
        f"all: **{ceiling:.1f} GFLOP/s** wall-clock, {ceiling_cpu:.1f} GFLOP per CPU-second. "
        "numpy's `a @ b` (OpenBLAS) on the same matrices is shown for reference only.",
        "",
        "| when | " + " | ".join(f"TF {n}² GFLOP/s" for n in sides) + " | "
        + " | ".join(f"TF {n}² GFLOP/CPU-s" for n in sides) + " | "
        + " | ".join(f"numpy {n}² GFLOP/s" for n in sides) + " | load avg 1 min | other cores |",
        "|---|" + "---|" * (3 * len(sides)) + "---|---|",
    ]
    for c in base["ceilings"]:
        values = [c[kind][str(n)] for kind in ("tf", "tf_cpu", "numpy") for n in sides]
        lines.append(f"| {c['when']} | " + " | ".join(f"{v:.1f}" for v in values)
                     + f" | {c['loadavg'][0]:.2f} | {c['other_during']:.2f} |")
    lines += [
        "",
        f"**Per size.** s/step: median of {len(base['sizes'][0]['step']['wall'])} "
        f"`Stylizer.loss_function(content)` calls (loss + gradient) after {WARMUP_CALLS} warm-up calls. "
        "GFLOP/s = useful FLOPs (below) / median s/step; % of ceiling against the TF matmul ceiling, "
        "from the median and from the fastest call (the ceiling itself is a best-of). "
        "CPU-s = this process's CPU seconds per step (all threads); % per CPU-s compares "
        "GFLOP per CPU-second with the matmul's, which stays meaningful when other jobs take cores. "
        "fwd-only: the same layers and Grams without the tape. optimize: a real "
        "`Stylizer.optimize(content, content, iterations=N)` (scipy L-BFGS-B), seconds per "
        "iteration, with objective evaluations / iterations (line search included); L-BFGS-B own: "
        "the part of those seconds spent outside the objective (scipy's bounded L-BFGS-B update, "
        "conversions, callback). load avg: just "
        "before the timed calls; other cores: CPU used by other processes during them "
        "(/proc/stat minus this process).",
        "",
        "| H×W | GFLOP/step | s/step (min–max) | GFLOP/s | % of ceiling (median / best) | CPU-s/step | % per CPU-s "
        "| fwd-only s | optimize s/iter (evals/iters) | L-BFGS-B own s/iter | load avg 1/5/15 min | other cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in base["sizes"]:
        h, w = row["size"]
        flops = row["flops"]["step"] / 1e9
        t, cpu = _median(row["step"]), _median(row["step"], "cpu")
        fwd = _median(row["forward"]) if "forward" in row else float("nan")
        opt = row.get("optimize", {"seconds": float("nan"), "iterations": 0, "evaluations": 0,
                                   "objective_seconds": float("nan")})
        iters = max(opt["iterations"], 1)
        lines.append(
            f"| {h}×{w} | {flops:.1f} | {t:.3f} ({min(row['step']['wall']):.3f}–{max(row['step']['wall']):.3f}) "
            f"| {flops / t:.1f} | {100 * flops / t / ceiling:.0f} % / "
            f"{100 * flops / min(row['step']['wall']) / ceiling:.0f} % | {cpu:.3f} | "
            f"{100 * flops / cpu / ceiling_cpu:.0f} % | {fwd:.3f} | "
            f"{opt['seconds'] / iters:.3f} ({opt['evaluations']}/{opt['iterations']}) | "
            f"{(opt['seconds'] - opt['objective_seconds']) / iters:.3f} | "
            f"{' / '.join(f'{v:.2f}' for v in row['loadavg'])} | {row['other_during']:.2f} |")
    row = base["sizes"][0]
    conv, gram = row["flops"]["conv_fwd"], row["flops"]["gram_fwd"]
    lines += [
        "",
        "**FLOP counting** (analytic, walking `Stylizer.net.sequence`; 1 multiply-add = 2 FLOPs): each "
        "conv forward is 2·h·w·C_in·C_out·9 at its own grid (the 2×2 poolings floor-halve h, w). The "
        "kernels are `tf.constant` and the tape watches only the image, so the backward takes input "
        "gradients only: one Conv2DBackpropInput per conv (the same multiply-adds as its forward) and "
        "no Conv2DBackpropFilter — a profiler trace of one step shows 11 forward convs, 11 "
        "backprop-input convs, 15 BatchMatMuls and no filter gradients. conv1_1's input gradient is "
        "counted: it is the gradient with respect to the image. Gram FᵀF per style layer: 2·h·w·C² "
        "forward and two such products backward (TensorFlow's MatMul gradient for each operand, both F), "
        "so 3× in all. Step = 2 × conv forward + 3 × Gram forward; at "
        f"{row['size'][0]}×{row['size'][1]} that is 2 × {conv / 1e9:.2f} + 3 × {gram / 1e9:.2f} GFLOP. "
        "Bias adds, ReLUs, poolings, the preprocessing, the loss reductions and their gradients are not "
        "counted (memory-bound, < 1 % of the arithmetic) but their time is in s/step.",
    ]
    lines += op_breakdown(base["sizes"])
    variants = {name: res for name, res in results.items() if res is not base}
    if variants:
        ref = base["sizes"][len(base["sizes"]) // 2]
        h, w = ref["size"]
        lines += ["", f"**Settings** at {h}×{w}, each in a fresh process with its own ceiling "
                  "(oneDNN and thread-pool sizes only take effect before TensorFlow starts):", "",
                  "| setting | s/step | GFLOP/s | own TF matmul ceiling | % of own ceiling | CPU-s/step "
                  "| speed vs default | load avg 1 min | other cores |",
                  "|---|---|---|---|---|---|---|---|---|"]
        ref_t = _median(ref["step"])
        for name, res in results.items():
            if "error" in res:
                lines.append(f"| {name} | failed: {res['error']} | | | | | | | |")
                continue
            row = ref if res is base else res["sizes"][0]
            flops = row["flops"]["step"] / 1e9
            t = _median(row["step"])
            lines.append(f"| {name} | {t:.3f} | {flops / t:.1f} | {res['ceiling']:.1f} | "
                         f"{100 * flops / t / res['ceiling']:.0f} % | {_median(row['step'], 'cpu'):.3f} | "
                         f"{ref_t / t:.2f}× | {row['loadavg'][0]:.2f} | {row['other_during']:.2f} |")
    return "\n".join(lines) + "\n"


def measure(args) -> dict:
    """Run the default configuration on every size and each variant on the middle size."""
    started = time.perf_counter()
    sizes = ",".join(f"{h}x{w}" for h, w in args.sizes)
    middle = args.sizes[len(args.sizes) // 2]
    results, waited = {}, 0.0
    for name in VARIANTS if not args.no_variants else [DEFAULT_VARIANT]:
        chosen = sizes if name == DEFAULT_VARIANT else f"{middle[0]}x{middle[1]}"
        results[name] = run_variant(name, chosen, args, args.max_wait - waited)
        waited += results[name]["waited"]
    ab = []
    speed = variant_speeds(results)
    if speed and args.ab_rounds > 0:
        # One run per process drifts by several per cent, so the fastest setting is
        # re-checked against the default in alternating fresh processes.
        best = max(speed, key=speed.get)
        checked = ",".join(f"{h}x{w}" for h, w in args.sizes[len(args.sizes) // 2:])
        for _ in range(args.ab_rounds):
            pair = {}
            for name in (DEFAULT_VARIANT, best):
                res = run_variant(name, checked, args, args.max_wait - waited, full=False)
                waited += res["waited"]
                if "error" not in res:
                    pair[name] = {"{}×{}".format(*r["size"]): _median(r["step"]) for r in res["sizes"]}
            ab.append(pair)
    argv = [os.path.relpath(sys.argv[0]), *sys.argv[1:]]
    command = "python " + " ".join(shlex.quote(a) for a in argv)
    return {"results": results, "ab": ab, "command": command, "elapsed": time.perf_counter() - started,
            "waited": waited, "date": datetime.date.today().isoformat(), "quiet_cores": args.quiet_cores}



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                        help=f"comma-separated HxW working sizes (default {DEFAULT_SIZES})")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per size, after 2 warm-ups")
    parser.add_argument("--iterations", type=int, default=5, help="L-BFGS iterations of the optimize run")
    parser.add_argument("--write", type=Path, help="RESULTS.md whose section to replace")
    parser.add_argument("--no-variants", action="store_true", help="skip the oneDNN/thread variants")
    parser.add_argument("--max-wait", type=float, default=600.0, help="seconds to wait for a quiet CPU, in all")
    parser.add_argument("--quiet-cores", type=float, default=0.3,
                        help="measure when other processes use fewer cores than this")
    parser.add_argument("--ab-rounds", type=int, default=2,
                        help="rounds of default vs fastest setting, alternating, on the middle and larger sizes")
    parser.add_argument("--raw", type=Path, help="also save the raw timings as JSON here")
    parser.add_argument("--render", type=Path, help="re-render a --raw file instead of measuring")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--intra", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--inter", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats < 1 or args.iterations < 1:
        parser.error("--repeats and --iterations must be ≥ 1")
    if args.worker:
        gate = LoadGate(args.quiet_cores, args.max_wait)
        if args.intra is not None:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(args.intra)
            tf.config.threading.set_inter_op_parallelism_threads(args.inter)
        result = run_worker(args.sizes, args.repeats, args.iterations, gate, args.full)
        result["waited"] = gate.waited
        print(json.dumps(result))
        return

    if args.render is not None:
        run = json.loads(args.render.read_text())
    else:
        run = measure(args)
        if args.raw is not None:
            args.raw.write_text(json.dumps(run, indent=1))
    report = format_report(run)
    print(report)
    if args.write is not None:
        write_section(args.write, SECTION, report)

if __name__ == "__main__":
    main()
