"""Drift over a clip: does a video job's output lose detail or style frame after frame?

Works on a finished vidstyle output folder (``OUT/input`` holds the working-size input
frames, ``OUT/frames`` the stylized ones, both ``frame_00001.png …``; see
:mod:`vidstyle.workspace`) and measures, per frame and over the clip:

- **sharpness** ``S_i = G(out_i) / G(in_i)`` with the gradient energy
  ``G(x) = mean|x[:, 1:] − x[:, :-1]| + mean|x[1:] − x[:-1]|``: forward differences along
  x and y, every RGB channel, pixels in [0, 1] (:func:`vidstyle.evaluate.gradient_energy`). Forward
  differences rather than ``np.gradient``'s central ones because a central difference
  is blind to the Nyquist frequency, which is exactly what repeated interpolation
  removes. Dividing by the input's G makes frames of different content comparable.
  The drift figure is ``mean S over the last k frames / mean S over the first k``
  (:func:`sharpness_ratio`, k = 5); 1.0 means no loss of detail.
- **style ratio** of chosen frames: the Gram (style) loss of the output divided by that
  of its content frame, by the independent judge ``../shared/tools/styleloss.py``
  (VGG16, not the project's own losses), one subprocess per frame; lower = more style.
  Drift shows as late frames with a higher ratio than early ones.
- **temporal error** (optional, :func:`temporal_error_of`): DESIGN.md's Huang et al.
  formula with DIS flow and Ruder's reliability estimated on the *input* frames (as
  ``benchmarks/bench_temporal.py`` does on real clips), so two runs over the same input
  are judged with the same flow. :func:`render_independent` makes the per-frame
  reference (no temporal coupling) to compare against.

Usage (repository root)::

    .venv/bin/python benchmarks/drift.py OUT STYLE [--independent IND_OUT] [--style-frames 1 2 3 58 59 60]

``bench_quality.py`` imports :func:`sharpness_series`, :func:`style_ratios` and
:func:`drift_summary`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from vidstyle.evaluate import gradient_energy, sharpness  # noqa: E402  (after the path set-up above)

__all__ = ["drift_summary", "gradient_energy", "sharpness_ratio", "sharpness_series", "style_ratios"]

STYLELOSS = REPO.parent / "shared" / "tools" / "styleloss.py"
FLOW_CACHE = REPO / "benchmarks" / "out" / "drift-flow-cache"
FRAME_RE = re.compile(r"frame_(\d+)\.png$")


# ---- frames ----------------------------------------------------------------------------
def frame_files(folder: Path) -> list[Path]:
    """``frame_NNNNN.png`` files of ``folder`` in frame order."""
    files = [p for p in Path(folder).iterdir() if FRAME_RE.search(p.name)]
    return sorted(files, key=lambda p: int(FRAME_RE.search(p.name).group(1)))


def read_rgb(path: Path) -> np.ndarray:
    """An image file as float64 RGB in [0, 1]."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    return image[:, :, ::-1].astype(np.float64) / 255.0


def _pairs(out_dir: Path) -> list[tuple[Path, Path]]:
    """(input, stylized) file pairs of an output folder, matched by frame number."""
    out_dir = Path(out_dir)
    inputs = {p.name: p for p in frame_files(out_dir / "input")}
    pairs = [(inputs[p.name], p) for p in frame_files(out_dir / "frames") if p.name in inputs]
    if not pairs:
        raise FileNotFoundError(f"{out_dir}: no frames/ with matching input/ frames")
    return pairs


# ---- sharpness -------------------------------------------------------------------------
def sharpness_series(out_dir: Path) -> list[float]:
    """Per-frame sharpness ``S_i = G(out_i) / G(in_i)`` of a vidstyle output folder.

    Parameters
    ----------
    out_dir : Path
        Output folder with ``input/`` (working-size input frames) and ``frames/``.

    Returns
    -------
    list of float
        One value per stylized frame, in frame order (frames without an input are skipped).
    """
    series = []
    for source, output in _pairs(out_dir):
        series.append(sharpness(read_rgb(output), read_rgb(source)))
    return series


def sharpness_ratio(series: Sequence[float], k: int = 5) -> float:
    """Mean of the last ``k`` values over the mean of the first ``k`` (1.0 = no drift)."""
    if len(series) < 2 * k:
        raise ValueError(f"need at least {2 * k} frames for first/last {k}; got {len(series)}")
    return float(np.mean(series[-k:]) / np.mean(series[:k]))


# ---- style -----------------------------------------------------------------------------
def style_ratio(output: Path, content: Path, style: Path, *, tool: Path = STYLELOSS) -> dict[str, float]:
    """The judge's losses of one output frame: ``{"style", "style_content", "ratio", "content"}``.

    Runs ``tool`` (``styleloss.py``) in a subprocess with this interpreter, TensorFlow on
    one thread each way so it does not crowd other jobs.
    """
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(tool), str(output), str(content), str(style)],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{tool.name} failed on {output}: {done.stderr.strip()[-500:]}")
    values = dict(re.findall(r"(\w+)=([-+0-9.eE]+|nan|inf)", done.stdout))
    if "ratio" not in values:
        raise RuntimeError(f"{tool.name} printed no ratio= for {output}: {done.stdout!r}")
    return {key: float(value) for key, value in values.items()}


def style_ratios(out_dir: Path, style_path: Path, frames: Sequence[int], *,
                 tool: Path = STYLELOSS) -> dict[int, float]:
    """Style ratio (output Gram loss / content Gram loss) of the given 1-based frames.

    Parameters
    ----------
    out_dir : Path
        vidstyle output folder (``input/`` + ``frames/``).
    style_path : Path
        The style image the job used.
    frames : sequence of int
        1-based frame numbers (``frame_00001.png`` is 1); negative numbers count from
        the end (−1 = last frame).
    """
    pairs = _pairs(out_dir)
    ratios = {}
    for number in frames:
        index = number - 1 if number > 0 else len(pairs) + number
        if not 0 <= index < len(pairs):
            raise IndexError(f"frame {number} is outside 1..{len(pairs)}")
        source, output = pairs[index]
        ratios[index + 1] = style_ratio(output, source, Path(style_path), tool=tool)["ratio"]
    return ratios


# ---- temporal error --------------------------------------------------------------------
def temporal_error_of(frames_dir: Path, input_dir: Path, *, count: int | None = None,
                      method: str = "dis", cache_dir: Path | None = FLOW_CACHE) -> float:
    """Temporal error of ``frames_dir`` with flow + reliability estimated on ``input_dir``.

    Parameters
    ----------
    frames_dir, input_dir : Path
        Stylized and input frames (same names, same size).
    count : int, optional
        Only the first ``count`` frames (default: all frames present in both).
    method : str
        Flow backend for the judge's flow (DIS, as benchmarks/bench_temporal.py).
    cache_dir : Path, optional
        Flow cache shared between evaluations of the same input (keyed by frame content).
    """
    from flow.store import FlowSettings, compute_flows
    from vidstyle.evaluate import temporal_error

    outputs = {p.name: p for p in frame_files(frames_dir)}
    inputs = [p for p in frame_files(input_dir) if p.name in outputs][:count]
    if len(inputs) < 2:
        raise ValueError(f"{frames_dir}: fewer than 2 frames with inputs")
    with tempfile.TemporaryDirectory(prefix="drift-flow-") as flow_dir:
        store = compute_flows(inputs, Path(flow_dir), offsets=(1,), settings=FlowSettings.create(method),
                              cache_dir=cache_dir, jobs=1)

        def flow_and_weights(t: int):
            return store.forward(t, t + 1), store.reliability(t, t + 1)

        return temporal_error(lambda t: read_rgb(outputs[inputs[t].name]), len(inputs), flow_and_weights)


def render_independent(out_dir: Path, style_path: Path, dest: Path, *, preset: str = "fast",
                       overrides: dict | None = None, iterations: int | None = None,
                       count: int | None = None) -> Path:
    """Stylize the input frames of ``out_dir`` one by one (no temporal coupling) into ``dest``.

    ``dest`` becomes a vidstyle-like output folder (``input/`` copied, ``frames/``), so every
    function here accepts it. Each frame gets :meth:`Stylizer.stylize` (coarse-to-fine from
    the configured init) with ``iterations`` at full size, like frame 1 of a video job.
    Frames already in ``dest/frames`` are kept (resumable).

    Parameters
    ----------
    overrides : dict, optional
        Nested settings merged over the preset, e.g. ``{"size": 256, "loss": {"style_weight": 3e5}}``.
    """
    from vidstyle.config import build_config, load_preset, merge
    from vidstyle.images import save_image
    from vidstyle.stylize import Stylizer, load_style_images

    config = build_config(merge(load_preset(preset), overrides or {}))
    inputs = frame_files(Path(out_dir) / "input")[:count]
    (dest / "input").mkdir(parents=True, exist_ok=True)
    (dest / "frames").mkdir(parents=True, exist_ok=True)
    first = read_rgb(inputs[0]).astype(np.float32)
    stylizer = Stylizer(load_style_images([style_path], first.shape[:2]), config, color_reference=first)
    for path in inputs:
        shutil.copyfile(path, dest / "input" / path.name)
        target = dest / "frames" / path.name
        if target.exists():
            continue
        result = stylizer.stylize(read_rgb(path).astype(np.float32), iterations=iterations)
        save_image(target, result.image)  # 8-bit PNG, as the video pipeline saves
    return dest


# ---- summary ---------------------------------------------------------------------------
def drift_summary(out_dir: Path, style_path: Path | None = None, *, k: int = 5,
                  style_frames: Sequence[int] | None = None, independent: Path | None = None,
                  temporal: bool = False) -> dict:
    """Sharpness, style and (optionally) temporal drift figures of one output folder.

    Parameters
    ----------
    out_dir : Path
        vidstyle output folder.
    style_path : Path, optional
        Style image; without it no style ratios are computed.
    k : int
        Frames averaged at each end of the clip.
    style_frames : sequence of int, optional
        1-based frames (negative from the end) to score with the judge; default the first
        and last ``k``.
    independent : Path, optional
        Output folder of a per-frame run over the same input (:func:`render_independent`);
        its temporal error over the same frames is reported next to this one's.
    temporal : bool
        Compute this folder's temporal error (implied by ``independent``).

    Returns
    -------
    dict
        ``frames``, ``sharpness`` (series), ``sharpness_first``, ``sharpness_last``,
        ``sharpness_ratio``; with a style: ``style`` ({frame: ratio}), ``style_first``,
        ``style_last`` (means over the chosen frames in the first / second half of the
        clip) and ``style_drift`` (= last / first); with temporal: ``temporal_error``,
        and with ``independent``: ``temporal_error_independent`` and ``temporal_vs_independent``.
    """
    series = sharpness_series(out_dir)
    n = len(series)
    summary: dict = {"frames": n, "sharpness": series, "sharpness_first": float(np.mean(series[:k])),
                     "sharpness_last": float(np.mean(series[-k:])), "sharpness_ratio": sharpness_ratio(series, k)}
    if style_path is not None:
        chosen = list(style_frames) if style_frames else [*range(1, k + 1), *range(n - k + 1, n + 1)]
        ratios = style_ratios(out_dir, style_path, chosen)
        early = [r for f, r in ratios.items() if f <= n / 2]
        late = [r for f, r in ratios.items() if f > n / 2]
        summary["style"] = ratios
        if early and late:
            summary.update(style_first=float(np.mean(early)), style_last=float(np.mean(late)),
                           style_drift=float(np.mean(late) / np.mean(early)))
    if temporal or independent is not None:
        out_dir = Path(out_dir)
        count = n
        if independent is not None:
            count = min(n, len(frame_files(Path(independent) / "frames")))
        summary["temporal_frames"] = count
        summary["temporal_error"] = temporal_error_of(out_dir / "frames", out_dir / "input", count=count)
        if independent is not None:
            ref = temporal_error_of(Path(independent) / "frames", out_dir / "input", count=count)
            summary["temporal_error_independent"] = ref
            summary["temporal_vs_independent"] = summary["temporal_error"] / ref
    return summary


def format_summary(name: str, summary: dict) -> str:
    """One-run report: the sharpness series in rows of 10, then the drift figures."""
    lines = [f"{name}: {summary['frames']} frames"]
    series = summary["sharpness"]
    for start in range(0, len(series), 10):
        row = " ".join(f"{s:.3f}" for s in series[start:start + 10])
        lines.append(f"  S {start + 1:>4}–{min(start + 10, len(series)):<4} {row}")
    lines.append(f"  sharpness first/last: {summary['sharpness_first']:.3f} → {summary['sharpness_last']:.3f}"
                 f"  ratio {summary['sharpness_ratio']:.3f}  (target ≥ 0.90)")
    if "style" in summary:
        lines.append("  style ratio: " + ", ".join(f"{f}: {r:.4f}" for f, r in summary["style"].items()))
        if "style_drift" in summary:
            lines.append(f"  style ratio early/late: {summary['style_first']:.4f} → {summary['style_last']:.4f}"
                         f"  drift {summary['style_drift']:.3f}  (target ≤ 1.15)")
    if "temporal_error" in summary:
        text = f"  temporal error (frames 1–{summary['temporal_frames']}): {summary['temporal_error']:.4f}"
        if "temporal_error_independent" in summary:
            text += (f"; independent {summary['temporal_error_independent']:.4f};"
                     f" ratio {summary['temporal_vs_independent']:.3f}  (target ≤ 0.5)")
        lines.append(text)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="+", help="vidstyle output folder(s) (input/ + frames/)")
    parser.add_argument("--style", type=Path, help="style image: adds the judge's style ratios")
    parser.add_argument("-k", type=int, default=5, help="frames averaged at each end (default 5)")
    parser.add_argument("--style-frames", type=int, nargs="+",
                        help="1-based frames to score (negative: from the end); default first and last k")
    parser.add_argument("--independent", type=Path, help="per-frame output folder for the temporal comparison")
    parser.add_argument("--temporal", action="store_true", help="temporal error of each folder")
    parser.add_argument("--json", type=Path, help="also write the summaries to this JSON file")
    args = parser.parse_args(argv)
    results = {}
    for out in args.out:
        summary = drift_summary(out, args.style, k=args.k, style_frames=args.style_frames,
                                independent=args.independent, temporal=args.temporal)
        results[str(out)] = summary
        print(format_summary(str(out), summary), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
