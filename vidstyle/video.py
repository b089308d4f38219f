"""Video stylization (Ruder et al.): frames → flow → per-frame optimization → frames →
encoded video, resumable at frame granularity.

Single pass: frame 1 from the configured init (pyramid allowed); frame i > 1 from the
previous result warped, with short-term (and optional long-term) temporal losses.
Multi-pass (``passes > 1``): pass 1 stylizes frames independently, later passes
alternate direction, start each frame from the reliability-weighted blend of its
neighbours and, from ``multipass_temporal_from`` on, add a temporal loss toward the
neighbour in the pass direction.

Every finished frame is saved atomically and reloaded from disk before it feeds the
next frame, so a resumed run sees exactly the bytes an uninterrupted run saw and
produces bit-identical frames.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flow.store import FlowSettings, FlowStore, compute_flows
from vidstyle import __version__
from vidstyle.codecs import CODECS, DEFAULT_CODEC, check_frame_size
from vidstyle.config import Config
from vidstyle.delivery import Delivery, deliver_frames, display_reader, plan_delivery
from vidstyle.encode import encode_video
from vidstyle.errors import InputError
from vidstyle.frames import FrameSelection, FrameSource, extract_frames, load_frame_file, open_frames
from vidstyle.images import save_image, write_atomic
from vidstyle.optimize import Result, Step
from vidstyle.photoreal import wants_photoreal
from vidstyle.plates import PlateOptions, alpha_region, read_plate
from vidstyle.regions import MaskOptions
from vidstyle.sequences import sequence_folder, sequence_stem
from vidstyle.stylize import Stylizer, TemporalTarget, load_style_images
from vidstyle.temporal import multipass_init, temporal_target, temporal_targets, warped_init
from vidstyle.workspace import NOTES_KEY, Workspace, check_overlaps, default_cache_dir

logger = logging.getLogger(__name__)

#: Mean flow reliability c (Ruder's consistency check) below which frame i is taken as the
#: first of a new shot. Measured: ≥ 0.75 between frames of one shot on Big Buck Bunny and
#: bikes, 0.00 across bikes' cut at frame 31.
SCENE_CUT_RELIABILITY = 0.2


class VideoProgress:
    """Receives progress of a video job; the CLI subclasses it with tqdm bars.

    Library code calls these hooks and never prints.
    """

    def stage(self, name: str, total: int) -> None:
        """A stage starts: "extract", "flow", "pass 1/3", "encode"."""

    def advance(self, done: int, total: int) -> None:
        """Progress inside the current stage (frames or flow pairs done)."""

    def step(self, frame: int, step: Step) -> None:
        """One optimizer iteration of 0-based ``frame``."""

    def frame_done(self, record: dict[str, Any]) -> None:
        """A frame finished (the record also goes to log.jsonl)."""


@dataclass
class VideoResult:
    """What a video job produced."""

    output_dir: Path
    frames: list[Path]
    video: Path | None
    resumed_frames: int
    seconds: float
    log: list[dict[str, Any]] = field(default_factory=list)
    precision: str = ""  # what the convolutions computed in, and why


@dataclass(frozen=True)
class VideoJob:
    """Inputs of one video job (everything but the Config)."""

    source: Path
    styles: tuple[Path, ...]
    output: Path
    selection: FrameSelection = field(default_factory=FrameSelection)
    flow_dir: Path | None = None  # reuse flows made elsewhere (e.g. artistic-videos)
    cache_dir: Path | None = None
    cache_max_gb: float | None = None  # flow cache cap (None: $VIDSTYLE_CACHE_MAX_GB or 10)
    no_cache: bool = False  # neither read nor fill the flow cache
    jobs: int | None = None
    encode: bool = True
    codec: str = DEFAULT_CODEC  # "h264", "prores" or "dnxhr" (vidstyle.codecs); frames only: encode=False
    video_name: str | None = None  # default NAME_stylized + the codec's extension
    fps: float | None = None
    masks: MaskOptions | None = None  # segmentation / region-only (vidstyle.regions)
    plate: PlateOptions = field(default_factory=PlateOptions)  # output format/size, transfer, alpha (vidstyle.plates)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def job_settings(job: VideoJob, config: Config, source: FrameSource) -> dict[str, Any]:
    """Everything that determines the output frames (compared on resume)."""
    if job.source.is_file():
        stat = job.source.stat()
        identity = {"size": stat.st_size, "mtime": int(stat.st_mtime)}
    else:  # the selected frame files, not the folder (whose mtime changes when -o is made inside it)
        digest = hashlib.sha256()
        for path in source.files:
            stat = path.stat()
            digest.update(f"{path.name}\0{stat.st_size}\0{int(stat.st_mtime)}\n".encode())
        identity = {"files": digest.hexdigest()[:16]}
    settings = {
        "vidstyle": __version__.split(".")[0],
        "config": config.to_dict(),
        "source": {"path": str(job.source.resolve()), **identity, "frames": len(source)},
        "styles": [_file_digest(p) for p in job.styles],
        "selection": dataclasses.asdict(job.selection),
        "flow_dir": str(job.flow_dir.resolve()) if job.flow_dir else None,
    }
    if job.masks is not None:
        settings["masks"] = job.masks.describe()
    output = plan_delivery(source, job.plate).settings()
    if output is not None:  # plate jobs only: a plain job's settings stay as they were
        settings["output"] = output
    return settings


def render_video(job: VideoJob, config: Config, *, progress: VideoProgress | None = None,
                 overwrite: bool = False) -> VideoResult:
    """Stylize a video file or folder of frames into ``job.output``; resumes earlier runs.

    Raises
    ------
    InputError, OptionError, OutputError, ResourceError
        Bad input, impossible options, unwritable output or results of other
        settings (without ``overwrite``), out of memory/disk.
    """
    progress = progress or VideoProgress()
    start = time.perf_counter()
    source = open_frames(job.source, selection=job.selection, long_side=config.size, fps=job.fps, plate=job.plate)
    if len(source) == 0:
        raise InputError(f"{job.source}: the selection holds no frames; check --start/--end/--every")
    if job.encode:  # e.g. DNxHR's minimum size: refused now, not after the render
        check_frame_size(job.codec, source.frame_size)
    styles_probe = [p for p in job.styles if not Path(p).is_file()]
    if styles_probe:
        raise InputError(f"style image '{styles_probe[0]}' not found: check the STYLE argument")
    ws, _, config = claim_workspace(job, config, source, overwrite=overwrite)
    delivery = plan_delivery(source, job.plate)

    progress.stage("extract", len(source))
    inputs = extract_frames(source, ws.input_dir, bit_depth=16 if delivery.deep else 8)
    progress.advance(len(inputs), len(inputs))
    first = load_frame_file(inputs[0])
    styles = load_style_images(job.styles, first.shape[:2])
    alpha = _alpha_regions(source, delivery, first.shape[:2])
    photoreal = wants_photoreal(config, job.masks) or alpha is not None  # stylizer built once flows exist
    stylizer = None if photoreal else Stylizer(styles, config, color_reference=first)

    video = config.video
    offsets = video.flow_offsets()
    store = None
    if len(inputs) > 1:  # warped inits need flow even when the temporal weight is 0
        # Only the pairs the frames still to render read: a resume costs O(frames left).
        pairs = pairs_needed(ws, len(inputs), offsets, video.passes)
        progress.stage("flow", len(pairs))
        store = compute_flows(inputs, job.flow_dir or ws.flow_dir, offsets=offsets, pairs=pairs,
                              settings=FlowSettings.create(video.flow_method),
                              cache_dir=None if job.no_cache else job.cache_dir or default_cache_dir(),
                              cache_max_gb=job.cache_max_gb, own_dir=ws.flow_dir, jobs=job.jobs,
                              progress=progress.advance)

    renderer = _Renderer(ws, stylizer, config, inputs, store, progress)
    renderer.bit_depth = 16 if ws.staged else 8
    renderer.extra = [{"number": n, **({"file": delivery.names[k]} if delivery.names else {})}
                      for k, n in enumerate(delivery.numbers)] if source.numbered else None
    if photoreal:
        renderer.on_frame = photoreal_frames(ws, config, job.masks, inputs, styles, store, alpha=alpha)
        renderer.stylizer = renderer.on_frame.stylizer
    if video.passes == 1:
        resumed = renderer.single_pass(ws.results_dir)
    else:
        resumed = renderer.multi_pass()
    if ws.staged:  # another size, format or alpha: frames/ is made from stylized/ and the plates
        progress.stage("deliver", len(inputs))
        deliver_frames(ws, source, delivery, progress=progress.advance)
    frames = [ws.frame_path(ws.frames_dir, i) for i in range(len(inputs))]

    out_video = None
    if job.encode:
        progress.stage("encode", 1)
        name = video_file_name(job)
        audio_start, audio_duration = source.time_range_s()
        out_video = encode_video(frames, job.output / name, fps=source.fps, crf=video.crf, codec=job.codec,
                                 audio_from=job.source if source.info.has_audio else None,
                                 audio_start_s=audio_start, audio_duration_s=audio_duration,
                                 audio_tempo=source.audio_tempo, reader=display_reader(delivery))
        progress.advance(1, 1)
    return VideoResult(job.output, frames, out_video, resumed, time.perf_counter() - start, ws.read_log(),
                       precision=(ws.recorded_settings() or {}).get(NOTES_KEY, {}).get("precision", ""))


def video_file_name(job: VideoJob) -> str:
    """The encoded video's file name inside the output folder: NAME_stylized.mp4 (H.264) or .mov
    (ProRes, DNxHR)."""
    stem = sequence_stem(job.source)
    return job.video_name or f"{stem}_stylized{CODECS[job.codec].extensions[0]}"


def job_inputs(job: VideoJob, config: Config) -> dict[str, Path | None]:
    """Every file or folder the user gave, by option name (for :func:`check_overlaps`)."""
    inputs: dict[str, Path | None] = {"SOURCE": sequence_folder(job.source), "--flow-dir": job.flow_dir}
    for k, style in enumerate(job.styles):
        inputs[f"STYLE {k + 1}" if len(job.styles) > 1 else "STYLE"] = Path(style)
    init = config.optimizer.init
    if Path(init).is_file():
        inputs["--init"] = Path(init)
    if config.net.weights:
        inputs["--weights"] = Path(config.net.weights)
    masks = job.masks
    if masks is not None:
        if masks.content_masks not in (None, "auto"):
            inputs["--content-masks"] = Path(masks.content_masks)
        if masks.style_mask is not None:
            inputs["--style-mask"] = Path(masks.style_mask)
        if masks.region is not None and masks.region != "grabcut" and not masks.region.startswith("auto:"):
            inputs["--region"] = Path(masks.region)
    return inputs


def claim_workspace(job: VideoJob, config: Config, source: FrameSource, *,
                    overwrite: bool) -> tuple[Workspace, bool, Config]:
    """Check that no input lies where the job writes, then bind the output folder to the job.

    ``precision = "auto"`` is resolved first, keeping the precision of the run being
    resumed (so no job mixes precisions, whichever machine resumes it); the choice and its
    reason are logged and stored in settings.json.

    Returns the workspace, whether earlier work of the same settings is resumed, and the
    config the job runs with.
    """
    check_overlaps(job.output, job_inputs(job, config), video_name=video_file_name(job) if job.encode else None)
    ws = plan_delivery(source, job.plate).workspace(job.output)
    config, reason = config.with_precision(recorded=None if overwrite else ws.recorded_precision())
    logger.info("precision: %s (%s)", config.net.precision, reason)
    resumed = ws.claim(job_settings(job, config, source), overwrite=overwrite,
                       notes={"precision": f"{config.net.precision}: {reason}"})
    return ws, resumed, config


def pairs_needed(ws: Workspace, n: int, offsets: Sequence[int], passes: int) -> list[tuple[int, int]]:
    """Flow pairs (i, j) that the frames not yet rendered read (warp, temporal loss, scene cut)."""
    final = ws.results_dir
    left = [j for j in range(n) if not ws.frame_path(final, j).is_file()]
    if not left:
        return []
    if passes > 1:  # later passes revisit every frame with both neighbours
        return [(i, i + 1) for i in range(n - 1)]
    return [(j - o, j) for o in sorted(set(offsets)) for j in left if j - o >= 0]


class _Renderer:
    """Per-frame optimization over the clip (single and multi-pass)."""

    def __init__(self, ws: Workspace, stylizer: Stylizer, config: Config, inputs: Sequence[Path],
                 store: FlowStore | None, progress: VideoProgress):
        self.ws, self.stylizer, self.config = ws, stylizer, config
        self.inputs, self.store, self.progress = list(inputs), store, progress
        self.n = len(self.inputs)
        self.on_frame = None  # called as on_frame(i) before frame i is optimized (photoreal masks)
        self.bit_depth = 8  # of the result files (16 when staged: quantized once, on delivery)
        self.extra: list[dict[str, Any]] | None = None  # per frame: plate number and file name for the log
        self.starts: dict[int, str] = {}  # frames not warm-started from their predecessor, and why

    def content(self, i: int) -> np.ndarray:
        return load_frame_file(self.inputs[i])

    def _finish(self, folder: Path, i: int, result, pass_number: int, seconds: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_image(self.ws.frame_path(folder, i), result.image, bit_depth=self.bit_depth)
        record = {"frame": i + 1, **(self.extra[i] if self.extra else {}), "pass": pass_number,
                  "iterations": result.iterations,
                  "loss": result.loss, "terms": result.terms, "seconds": round(seconds, 3),
                  "stopped_early": result.stopped_early, "stop": result.stop_reason}
        if i in self.starts:
            record["start"] = self.starts[i]
        self.ws.log(record)
        self.progress.frame_done(record)

    def _on_step(self, i: int):
        return lambda step: self.progress.step(i, step)

    def _render(self, folder: Path, order: Sequence[int], pass_number: int,
                optimize_frame: Callable[[int, np.ndarray], Result]) -> int:
        """Optimize the frames of ``order`` not yet in ``folder``; returns how many were there."""
        done = self._done(folder)
        finished = len(done)
        self.progress.advance(finished, self.n)
        for i in order:
            if i in done:
                continue
            t0 = time.perf_counter()
            content = self.content(i)
            if self.on_frame is not None:
                self.on_frame(i)
            self._finish(folder, i, optimize_frame(i, content), pass_number, time.perf_counter() - t0)
            finished += 1
            self.progress.advance(finished, self.n)
        return len(done)

    def _scene_cut(self, i: int) -> bool:
        """Frame i starts a new shot: almost no pixel of frame i−1 maps reliably onto it."""
        reliability = float(np.mean(self.store.reliability(i, i - 1)))
        if reliability < SCENE_CUT_RELIABILITY:
            self.starts[i] = "scene cut"
            logger.info("frame %d: scene cut (mean flow reliability %.2f), stylized from scratch", i + 1, reliability)
            return True
        return False

    def _done(self, folder: Path) -> set[int]:
        return {i for i in range(self.n) if self.ws.frame_path(folder, i).is_file()}

    # ---- single pass ----------------------------------------------------------------
    def single_pass(self, folder: Path) -> int:
        opt, video = self.config.optimizer, self.config.video

        def stylized(k: int) -> np.ndarray:
            return load_frame_file(self.ws.frame_path(folder, k))  # the saved bytes, for exact resume

        def optimize_frame(i: int, content: np.ndarray) -> Result:
            if i == 0 or self._scene_cut(i):
                # A new shot: nothing to carry over, so stylize it from scratch like frame 1.
                return self.stylizer.stylize(content, iterations=opt.first_iterations or opt.iterations,
                                             callback=self._on_step(i))
            init = warped_init(stylized(i - 1), self.store.backward(i, i - 1), content)
            targets = (temporal_targets(i, stylized, self.store, video.long_term)
                       if self.config.loss.temporal_weight > 0 else [])
            return self.stylizer.refine(content, init, iterations=opt.iterations, temporal=targets,
                                        callback=self._on_step(i))

        self.progress.stage("frames", self.n)
        return self._render(folder, range(self.n), 1, optimize_frame)

    # ---- multi-pass -----------------------------------------------------------------
    def multi_pass(self) -> int:
        video, opt = self.config.video, self.config.optimizer
        resumed = 0
        for number in range(1, video.passes + 1):
            folder, previous = self.ws.pass_dir(number), self.ws.pass_dir(number - 1)
            forward = number % 2 == 1

            def optimize_frame(i: int, content: np.ndarray, number=number, forward=forward, folder=folder,
                               previous=previous) -> Result:
                if number == 1:
                    # Pass 1: frames independent of each other (Ruder 2018, sec. 3.3).
                    return self.stylizer.stylize(content, iterations=opt.iterations, callback=self._on_step(i))
                return self._refine(i, number, forward, folder, previous, content)

            self.progress.stage(f"pass {number}/{video.passes}", self.n)
            order = range(self.n) if forward else range(self.n - 1, -1, -1)
            resumed += self._render(folder, order, number, optimize_frame)
        last = self.ws.pass_dir(video.passes)
        self.ws.results_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            final = self.ws.frame_path(self.ws.results_dir, i)
            if not final.is_file():
                write_atomic(final, self.ws.frame_path(last, i).read_bytes())
        return resumed

    def _refine(self, i: int, number: int, forward: bool, folder: Path, previous: Path, content: np.ndarray):
        video, opt = self.config.video, self.config.optimizer
        toward_index = i - 1 if forward else i + 1
        away_index = i + 1 if forward else i - 1

        def neighbour(k: int, source: Path):
            if not 0 <= k < self.n:
                return None
            image = load_frame_file(self.ws.frame_path(source, k))
            flow_to = self.store.backward(i, k) if k < i else self.store.forward(i, k)
            return image, flow_to, self.store.reliability(i, k)

        toward = neighbour(toward_index, folder)  # already updated in this pass
        away = neighbour(away_index, previous)
        current = load_frame_file(self.ws.frame_path(previous, i))
        init = multipass_init(current, toward, away, a_toward=video.blend_toward, a_away=video.blend_away)
        targets: list[TemporalTarget] = []
        if toward is not None and number >= video.multipass_temporal_from and video.multipass_temporal_factor > 0:
            image, flow_to, reliability = toward
            # Scaling c scales this term's weight: w·Σ(f·c)(x−ω)² = (w·f)·Σc(x−ω)².
            targets.append(temporal_target(image, flow_to, video.multipass_temporal_factor * reliability))
        result = self.stylizer.optimize(content, init, iterations=opt.iterations, temporal=targets,
                                        callback=self._on_step(i))
        return self.stylizer.finish(result, content)


def _alpha_regions(source: FrameSource, delivery: Delivery, shape_hw: tuple[int, int]):
    """``region(i)`` → (H, W) {0, 1} of the non-transparent pixels of frame i, or None when the
    plate has no alpha or ``--no-alpha-mask`` (the style statistics then see every pixel)."""
    files = source.files
    if files is None or not delivery.info.alpha or not delivery.options.alpha_mask:
        return None
    return lambda i: alpha_region(read_plate(files[i]), shape_hw)


class _PhotorealFrames:
    """Per-frame masks for a :class:`~vidstyle.photoreal.PhotorealStylizer` over a clip."""

    def __init__(self, stylizer, track, feather: float, alpha=None):
        self.stylizer, self.track, self.feather, self.alpha = stylizer, track, feather, alpha

    def __call__(self, i: int) -> None:
        masks = self.track.frame_masks(i, feather=self.feather)
        if self.alpha is not None:  # transparent pixels leave the style statistics (a region)
            from vidstyle.regions import FrameMasks

            inside = self.alpha(i)
            masks = FrameMasks(masks.labels, inside if masks.region is None else masks.region * inside)
        self.stylizer.set_frame(masks)


def photoreal_frames(ws: Workspace, config: Config, masks: MaskOptions | None, inputs: Sequence[Path],
                     styles: Sequence[np.ndarray], store: FlowStore | None, *, alpha=None) -> _PhotorealFrames:
    """The photoreal stylizer and its per-frame mask hook; labels live in OUTDIR/labels/.

    Labels of other settings were removed when the workspace was claimed, so the folder only
    holds this job's labels (kept for resume). ``alpha(i)``, when given, is frame i's
    non-transparent region (RGBA plates, :func:`_alpha_regions`), multiplied into its region.
    """
    from vidstyle.photoreal import PhotorealStylizer
    from vidstyle.regions import MaskTrack

    folder = ws.labels_dir
    track = None
    if masks is not None:
        def flow(i: int):
            return store.backward(i, i - 1), store.reliability(i, i - 1)

        track = MaskTrack(masks, [lambda p=p: load_frame_file(p) for p in inputs], styles[0] if styles else None,
                          flow=flow if store is not None else None, folder=folder, seed=config.optimizer.seed)
    stylizer = PhotorealStylizer(styles, config, style_labels=None if track is None else track.style_labels,
                                 color_reference=load_frame_file(inputs[0]))
    if track is None:
        return _PhotorealFrames(stylizer, _NoMasks(), 0.0, alpha)
    return _PhotorealFrames(stylizer, track, config.photoreal.region_feather, alpha)


class _NoMasks:
    def frame_masks(self, i: int, *, feather: float = 0.0):
        from vidstyle.regions import FrameMasks

        return FrameMasks()
