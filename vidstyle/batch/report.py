"""A self-contained HTML report of a batch (or of single video jobs).

One page, ``report.html`` in the batch folder: a summary table, then per shot a contact
sheet (input vs stylized frames), the contact sheet of its ``--preview`` when there is
one, loss, temporal error and seconds per frame plotted from its ``log.jsonl`` and flow
folder, a drift plot (sharpness and style loss per frame, relative to frame 1), and its
status. Images are embedded as base64 PNG; the page has no JavaScript and loads nothing
from elsewhere, so it can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidstyle.errors import InputError
from vidstyle.images import write_atomic
from vidstyle.preview import CONTACT_SHEET, PREVIEW_DIR
from vidstyle.workspace import FRAME_PATTERN, SETTINGS_FILE, Workspace

logger = logging.getLogger(__name__)

REPORT_FILE = "report.html"
#: Frames sampled per shot for the contact sheet.
CONTACT_FRAMES = 4
#: Height of a contact-sheet tile in pixels (tiny frames are enlarged, nearest neighbour).
TILE_HEIGHT = 160
TERMS = ("content", "style", "tv", "temporal")


@dataclass
class ShotReport:
    """Everything the page shows about one shot.

    Attributes
    ----------
    name, status : str
        Shot name and status ("done", "skipped", "failed", "running", "incomplete", …).
    output : Path
        The shot's folder.
    error : str or None
        Why it failed.
    frames, finished : int
        Frames of the shot (input frames extracted) and stylized frames present.
    log : list of dict
        Last log.jsonl record per (pass, frame).
    temporal, temporal_input : np.ndarray
        Temporal error per frame pair (t, t+1) of the stylized frames and, for scale,
        of the input frames (which measures how well the flow explains the motion).
    video : str or None
        Encoded video file name inside ``output``.
    sharpness : np.ndarray
        Per frame, ``S_i = G(out_i) / G(in_i)`` (:func:`vidstyle.evaluate.sharpness`)
        divided by frame 1's; NaN where a frame is not stylized.
    style_ratio : np.ndarray
        Per frame, the logged style loss divided by frame 1's (last pass); above 1 the
        style fades. NaN where no style term was logged.
    preview : Path or None
        Contact sheet of ``vidstyle video --preview`` in the shot's folder.
    """

    name: str
    status: str
    output: Path
    error: str | None = None
    frames: int = 0
    finished: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    temporal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    temporal_input: np.ndarray = field(default_factory=lambda: np.zeros(0))
    video: str | None = None
    sharpness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    style_ratio: np.ndarray = field(default_factory=lambda: np.zeros(0))
    preview: Path | None = None

    @property
    def seconds(self) -> float:
        return float(sum(r.get("seconds", 0.0) for r in self.log))

    @property
    def seconds_per_frame(self) -> float | None:
        return self.seconds / len(self.log) if self.log else None


# ---- measurements -----------------------------------------------------------------------
def temporal_errors(frames: list[Path], flow_dir: Path) -> np.ndarray:
    """Temporal error of each consecutive frame pair (Huang et al. 2017, eq. 8 per pair).

    For pair ``t`` the frame ``t + 1`` is warped back to ``t`` with the forward flow
    ``t → t+1`` and compared to frame ``t`` where the flow is reliable:
    ``e_t = sqrt( (1/D) Σ_k c_k (x_t,k − W(x_{t+1})_k)² )`` with ``D = H·W·3`` and pixel
    values in [0, 1]; ``c`` is the flow's reliability (0 at occlusions and motion
    boundaries) times the warp's in-frame mask (:func:`vidstyle.evaluate.temporal_error_terms`).
    The clip's error in DESIGN.md "Evaluation" is ``sqrt(mean(e_t²))`` (:func:`clip_error`).

    Parameters
    ----------
    frames : list of Path
        Frame files in clip order (stylized or input).
    flow_dir : Path
        Flow folder of the clip (artistic-videos names, :class:`flow.store.FlowStore`).

    Returns
    -------
    np.ndarray
        ``(len(frames) − 1,)`` float64; NaN where a frame or flow file is missing.
    """
    from flow.errors import FlowError
    from flow.store import FlowStore
    from vidstyle.evaluate import temporal_error_terms
    from vidstyle.frames import load_frame_file

    store = FlowStore(Path(flow_dir))
    errors = np.full(max(len(frames) - 1, 0), np.nan)
    following = None
    for t in range(len(frames) - 1):
        try:
            current = following if following is not None else load_frame_file(frames[t])
            following = load_frame_file(frames[t + 1])
            flow, weights = store.forward(t, t + 1), store.reliability(t, t + 1)
            total, size = temporal_error_terms(current, following, flow, weights)
        except (FlowError, InputError, OSError) as exc:
            logger.debug("no temporal error for pair %d: %s", t + 1, exc)
            following = None
            continue
        errors[t] = math.sqrt(total / size)
    return errors


def clip_error(errors: np.ndarray) -> float | None:
    """Whole-clip temporal error ``sqrt(mean_t e_t²)`` over the measured pairs."""
    measured = errors[np.isfinite(errors)]
    return float(np.sqrt(np.mean(measured**2))) if measured.size else None


def sharpness_series(inputs: list[Path], stylized: list[Path]) -> np.ndarray:
    """Sharpness of each stylized frame relative to frame 1's (1.0 = as detailed as frame 1).

    ``S_i = G(out_i) / G(in_i)`` with the gradient energy G of :func:`vidstyle.evaluate.gradient_energy`
    (the drift figure of ``benchmarks/drift.py``), divided by the first measured ``S``.

    Returns
    -------
    np.ndarray
        ``(len(inputs),)`` float64; NaN where a frame is missing or unreadable.
    """
    from vidstyle.evaluate import sharpness
    from vidstyle.frames import load_frame_file

    series = np.full(len(inputs), np.nan)
    for i, (source, output) in enumerate(zip(inputs, stylized, strict=True)):
        if not output.is_file():
            continue
        try:
            series[i] = sharpness(load_frame_file(output), load_frame_file(source))
        except (InputError, OSError) as exc:
            logger.debug("no sharpness for frame %d: %s", i + 1, exc)
    measured = series[np.isfinite(series)]
    return series / measured[0] if measured.size and measured[0] > 0 else series


def style_ratio_series(log: list[dict[str, Any]], frames: int) -> np.ndarray:
    """The logged style loss of each frame (last pass) over frame 1's; NaN where missing."""
    series = np.full(frames, np.nan)
    passes = [int(r.get("pass", 1)) for r in log]
    for record in log:
        value = (record.get("terms") or {}).get("style")
        frame = record.get("frame")
        if int(record.get("pass", 1)) == max(passes) and isinstance(value, (int, float)) and \
                isinstance(frame, int) and 1 <= frame <= frames:
            series[frame - 1] = value
    measured = series[np.isfinite(series)]
    return series / measured[0] if measured.size and measured[0] > 0 else np.full(frames, np.nan)


def _last_records(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    for record in log:
        if isinstance(record.get("frame"), int):
            latest[(int(record.get("pass", 1)), record["frame"])] = record
    return [latest[k] for k in sorted(latest)]


def shot_report(output: Path, *, name: str | None = None, status: str | None = None,
                error: str | None = None, frames: int | None = None) -> ShotReport:
    """Gather what the page shows about the shot in ``output`` (missing parts stay empty).

    ``frames`` is the shot's frame count when known (else the extracted input frames).
    """
    ws = Workspace.of(Path(output))
    inputs = sorted(ws.input_dir.glob("frame_*.png")) if ws.input_dir.is_dir() else []
    count = len(inputs)
    finished = sum(ws.frame_path(ws.frames_dir, i).is_file() for i in range(count))
    # Measured on the working-size results (stylized/ of a plate job, beside input/ and flow/).
    stylized = [ws.frame_path(ws.results_dir, i) for i in range(count)]
    marker = _read_json(ws.root / "done.json")
    preview = ws.root / PREVIEW_DIR / CONTACT_SHEET
    preview = preview if preview.is_file() else None
    if status is None:
        status = "done" if marker else ("incomplete" if finished < count or not count else "frames only")
        if not count and preview is not None and not (ws.root / SETTINGS_FILE).is_file():
            status = "preview only"
    report = ShotReport(name=name or ws.root.name, status=status, output=ws.root, error=error,
                        frames=frames if frames else count,
                        finished=finished, log=_last_records(ws.read_log()),
                        video=(marker or {}).get("video"), preview=preview)
    report.sharpness = sharpness_series(inputs, stylized)
    report.style_ratio = style_ratio_series(report.log, count)
    if count > 1 and finished == count:
        report.temporal = temporal_errors(stylized, ws.flow_dir)
    if count > 1:
        report.temporal_input = temporal_errors(inputs, ws.flow_dir)
    return report


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _shots_of(folder: Path) -> tuple[str, list[ShotReport]]:
    """Title and shots of a batch folder (batch.json), a job folder, or a folder of jobs."""
    batch = _read_json(folder / "batch.json")
    if batch is not None and isinstance(batch.get("shots"), list):
        shots = [shot_report(folder / s["output"], name=s.get("name"), status=s.get("status"), error=s.get("error"),
                             frames=s.get("frames") if isinstance(s.get("frames"), int) else None)
                 for s in batch["shots"] if isinstance(s, dict) and "output" in s]
        return Path(str(batch.get("job_file", folder.name))).name, shots
    if _is_shot(folder):
        return folder.name, [shot_report(folder)]
    shots = [shot_report(sub) for sub in sorted(folder.iterdir()) if sub.is_dir() and _is_shot(sub)]
    return folder.name, shots


def _is_shot(folder: Path) -> bool:
    """A render's folder (settings.json) or one that holds only a ``--preview``."""
    return (folder / SETTINGS_FILE).is_file() or (folder / PREVIEW_DIR / CONTACT_SHEET).is_file()


# ---- images -----------------------------------------------------------------------------
def _png_data(image: np.ndarray) -> str:
    """``data:`` URI of an RGB uint8 image as PNG."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError("could not encode a report image as PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _tile(path: Path, height: int) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is None:
        return None
    scale = height / image.shape[0]
    interpolation = cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA
    width = max(1, round(image.shape[1] * scale))
    return cv2.cvtColor(cv2.resize(image, (width, height), interpolation=interpolation), cv2.COLOR_BGR2RGB)


def contact_sheet(shot: ShotReport, *, samples: int = CONTACT_FRAMES,
                  height: int = TILE_HEIGHT) -> tuple[np.ndarray, list[int]] | None:
    """Input frames (top row) above stylized frames (bottom row) at a few sampled times.

    Returns
    -------
    (np.ndarray, list of int) or None
        RGB uint8 sheet and the frame numbers of its columns (a numbered sequence's file numbers,
        else 1-based positions); None without frames.
    """
    if shot.frames == 0:
        return None
    picks = sorted({round(float(x)) for x in np.linspace(0, shot.frames - 1, min(samples, shot.frames))})
    ws = Workspace.of(shot.output)
    recorded = ws.recorded_numbers()
    gap = 4
    columns, numbers = [], []
    for index in picks:
        top = _tile(ws.input_dir / FRAME_PATTERN.format(index + 1), height)
        if top is None:
            continue
        bottom = _tile(ws.frame_path(ws.results_dir, index), height)
        if bottom is None or bottom.shape != top.shape:
            bottom = np.full_like(top, 235)  # not stylized (yet)
        columns.append(np.concatenate([top, np.full((gap, top.shape[1], 3), 255, np.uint8), bottom]))
        numbers.append(recorded[index] if recorded and index < len(recorded) else index + 1)
    if not columns:
        return None
    spacer = np.full((columns[0].shape[0], gap, 3), 255, np.uint8)
    parts = []
    for column in columns:
        parts += [column, spacer]
    return np.concatenate(parts[:-1], axis=1), numbers


def plots(shot: ShotReport) -> np.ndarray | None:
    """Loss per frame, temporal error per frame pair and seconds per frame, side by side.

    Plotted with matplotlib's Agg backend (set here, not at import) on a standalone
    Figure, so no display and no global pyplot state are involved.
    """
    if not shot.log and not np.isfinite(shot.temporal_input).any():
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(12, 3.2), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, temporal_axes, time_axes = figure.subplots(1, 3)
    passes = sorted({int(r.get("pass", 1)) for r in shot.log})
    for number in passes:
        records = [r for r in shot.log if int(r.get("pass", 1)) == number]
        x = [r["frame"] for r in records]
        suffix = f" (pass {number})" if len(passes) > 1 else ""
        loss_axes.plot(x, [r.get("loss", np.nan) for r in records], "o-", color="black", label="total" + suffix)
        if number == passes[-1]:
            for term in TERMS:
                values = [(r.get("terms") or {}).get(term) for r in records]
                values = [v if isinstance(v, (int, float)) and v > 0 else np.nan for v in values]  # log axis
                if np.isfinite(values).any():
                    loss_axes.plot(x, values, ".--", label=term)
    loss_axes.set(title="loss per frame", xlabel="frame", yscale="log" if shot.log else "linear")
    if shot.log:
        loss_axes.legend(fontsize=7)
    pairs = np.arange(1, len(shot.temporal_input) + 1)
    if np.isfinite(shot.temporal).any():
        temporal_axes.plot(pairs, shot.temporal, "o-", label="stylized")
    if np.isfinite(shot.temporal_input).any():
        temporal_axes.plot(pairs, shot.temporal_input, "s--", color="grey", label="input")
        temporal_axes.legend(fontsize=7)
    temporal_axes.set(title="temporal error (pair t → t+1)", xlabel="frame t", ylim=(0, None))
    last = [r for r in shot.log if int(r.get("pass", 1)) == (passes[-1] if passes else 1)]
    time_axes.bar([r["frame"] for r in last], [r.get("seconds", 0.0) for r in last], color="tab:green")
    time_axes.set(title="seconds per frame" + (" (last pass)" if len(passes) > 1 else ""), xlabel="frame")
    for axes in (loss_axes, temporal_axes, time_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    decoded = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def drift_plot(shot: ShotReport) -> np.ndarray | None:
    """Sharpness and style loss per frame, both relative to frame 1 (1.0 = no drift)."""
    if not (np.isfinite(shot.sharpness).any() or np.isfinite(shot.style_ratio).any()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6, 3.2), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    frames = np.arange(1, max(len(shot.sharpness), len(shot.style_ratio)) + 1)
    if np.isfinite(shot.sharpness).any():
        axes.plot(frames[:len(shot.sharpness)], shot.sharpness, "o-", label="sharpness G(out)/G(in)")
    if np.isfinite(shot.style_ratio).any():
        axes.plot(frames[:len(shot.style_ratio)], shot.style_ratio, "s--", label="style loss (higher = weaker)")
    axes.axhline(1.0, color="grey", linewidth=0.8)
    axes.set(title="drift per frame (frame 1 = 1)", xlabel="frame")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    decoded = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


# ---- page -------------------------------------------------------------------------------
_CSS = """
body{font-family:sans-serif;margin:2em;color:#222}
table.summary{border-collapse:collapse}
table.summary td,table.summary th{border:1px solid #bbb;padding:4px 8px;text-align:right}
table.summary td:first-child,table.summary td.text{text-align:left}
.done,.skipped{color:#176117}.failed{color:#a40000}.running,.incomplete,.pending{color:#8a5a00}
section{margin-top:2.5em;border-top:2px solid #ddd}
img{max-width:100%;image-rendering:pixelated}
pre.error{background:#fdecea;padding:8px;white-space:pre-wrap}
"""


def _fmt(value: float | None, digits: str = ".4f") -> str:
    return "–" if value is None else format(value, digits)


def _summary(shots: list[ShotReport], folder: Path) -> str:
    rows = []
    for shot in shots:
        spf = shot.seconds_per_frame
        video = "–"
        if shot.video and (shot.output / shot.video).is_file():
            link = html.escape((Path(_relative(shot.output, folder)) / shot.video).as_posix(), quote=True)
            video = f'<a href="{link}">{html.escape(shot.video)}</a>'
        rows.append(
            f'<tr><td><a href="#shot-{html.escape(shot.name, quote=True)}">{html.escape(shot.name)}</a></td>'
            f'<td class="text {html.escape(shot.status)}">{html.escape(shot.status)}</td>'
            f"<td>{shot.finished}/{shot.frames}</td><td>{shot.seconds:.1f}</td><td>{_fmt(spf, '.2f')}</td>"
            f"<td>{_fmt(clip_error(shot.temporal))}</td><td>{_fmt(clip_error(shot.temporal_input))}</td>"
            f'<td class="text">{video}</td>'
            f'<td class="text">{html.escape(_short(shot.error)) if shot.error else ""}</td></tr>')
    head = ("<tr><th>shot</th><th>status</th><th>frames</th><th>optimizing s</th><th>s / frame</th>"
            "<th>temporal error</th><th>input temporal error</th><th>video</th><th>error</th></tr>")
    return f'<table class="summary">{head}{"".join(rows)}</table>'


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def _section(shot: ShotReport) -> str:
    name = html.escape(shot.name)
    parts = [f'<section id="shot-{html.escape(shot.name, quote=True)}"><h2>{name} '
             f'<span class="{html.escape(shot.status)}">({html.escape(shot.status)})</span></h2>',
             f"<p>{shot.finished} of {shot.frames} frames stylized · folder <code>{html.escape(str(shot.output))}"
             f"</code> · temporal error {_fmt(clip_error(shot.temporal))} "
             f"(input {_fmt(clip_error(shot.temporal_input))})</p>"]
    if shot.error:
        parts.append(f'<pre class="error">{html.escape(shot.error)}</pre>')
    sheet = contact_sheet(shot)
    if sheet is not None:
        image, numbers = sheet
        parts.append(f'<h3>Contact sheet</h3><p>top: input, bottom: stylized; frames '
                     f'{", ".join(map(str, numbers))}</p><img alt="contact sheet of {name}" src="{_png_data(image)}">')
    if shot.preview is not None:
        data = base64.b64encode(shot.preview.read_bytes()).decode("ascii")
        parts.append(f'<h3>Preview</h3><p>key frames of <code>--preview</code> (small size, each frame on its own; '
                     f'top: input, bottom: stylized)</p><img class="preview" alt="preview of {name}" '
                     f'src="data:image/png;base64,{data}">')
    figure = plots(shot)
    if figure is not None:
        parts.append(f'<h3>Loss, temporal error, time</h3><img alt="plots of {name}" src="{_png_data(figure)}">')
    drift = drift_plot(shot)
    if drift is not None:
        parts.append(f'<h3>Drift</h3><p>sharpness (gradient energy of the output over its input frame) and style '
                     f'loss per frame, relative to frame 1</p><img alt="drift of {name}" src="{_png_data(drift)}">')
    parts.append("</section>")
    return "\n".join(parts)


def render_report(folder: Path) -> str:
    """The report page of ``folder`` as an HTML string (see :func:`write_report`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the batch folder (the one holding batch.json)")
    title, shots = _shots_of(folder)
    if not shots:
        raise InputError(f"{folder} holds no batch.json and no shot folders (with settings.json); "
                         "give the output folder of `vidstyle batch` or `vidstyle video`")
    counts = {status: sum(s.status == status for s in shots) for status in dict.fromkeys(s.status for s in shots)}
    overview = ", ".join(f"{n} {status}" for status, n in counts.items())
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>vidstyle report: {html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>vidstyle batch report: {html.escape(title)}</h1>",
        f"<p>{len(shots)} shots: {html.escape(overview)} · written {stamp}. Temporal error: Huang et al. "
        "2017 eq. 8 (RMS of reliable warping differences, pixels in [0, 1]); the input's own error shows "
        "how well the flow explains the motion.</p>",
        "<h2>Summary</h2>", _summary(shots, folder),
        *(_section(shot) for shot in shots),
        "</body></html>", ""])


def write_report(folder: str | Path) -> Path:
    """Write ``report.html`` into a batch folder (or a ``vidstyle video`` output folder).

    Parameters
    ----------
    folder : str or Path
        A batch folder (with ``batch.json``), one shot's folder, or a folder of shots.

    Returns
    -------
    Path
        The written page (atomically replaced).

    Raises
    ------
    InputError
        ``folder`` is not a folder or holds no shots.
    """
    folder = Path(folder)
    page = render_report(folder)
    path = folder / REPORT_FILE
    write_atomic(path, page.encode("utf-8"))
    return path


__all__ = ["REPORT_FILE", "ShotReport", "clip_error", "contact_sheet", "drift_plot", "plots", "render_report",
           "sharpness_series", "shot_report", "style_ratio_series", "temporal_errors", "write_report"]
