"""Segmentation masks and regions in the product: where they come from, frame by frame.

:class:`MaskOptions` gathers the user's mask choices (``--content-masks``,
``--style-mask``, ``--auto-masks``, ``--grabcut``, ``--region``); :class:`MaskTrack`
turns them into a :class:`FrameMasks` per content frame. For a video,
frame 1 is segmented (mask file, k-means auto masks or GrabCut) and later frames take
their labels from the previous frame along the backward flow
(`segmentation.propagate_labels`), re-segmenting only where the flow is unreliable. Every
frame's labels are written as colour-coded PNGs, so a resumed run reads them back
instead of re-deriving them and the user can inspect them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from segmentation import PALETTE, auto_masks, grabcut, propagate_labels, read_mask, write_mask
from vidstyle.errors import InputError, OptionError
from vidstyle.frames import list_frame_files

#: k of ``--content-masks auto`` / ``--region auto:LABEL`` without ``--auto-masks``.
DEFAULT_AUTO_K = 3
#: A region mask file pixel belongs to the region at or above this grey level (of 1).
REGION_THRESHOLD = 0.5
REGION_OUTSIDE, REGION_INSIDE = 0, 1  # labels of a region map (blue / green when written)


@dataclass(frozen=True)
class FrameMasks:
    """The masks of one content frame, at the frame's working size.

    Attributes
    ----------
    labels : (H, W) int or None
        Label map in the DPST palette order (`segmentation.PALETTE`); None: no segmentation.
    region : (H, W) float32 in [0, 1] or None
        Soft region to stylize (0 outside, exactly); None: the whole frame.
    """

    labels: np.ndarray | None = None
    region: np.ndarray | None = None


def feather_region(region: np.ndarray, width: float) -> np.ndarray:
    """Soft-edged region weights: 0 outside (exactly), ramping to 1 inside over ``width`` px.

    Parameters
    ----------
    region : (H, W) bool or {0, 1}
        The region to stylize.
    width : float
        Feather width in pixels (0: hard edge).

    Returns
    -------
    (H, W) float32
        Smoothstep of the distance to the nearest outside pixel / width, clipped to [0, 1].
    """
    inside = np.asarray(region) > 0
    if width <= 0 or inside.all() or not inside.any():
        return inside.astype(np.float32)
    distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 3)
    t = np.clip(distance / width, 0.0, 1.0)
    return np.where(inside, t * t * (3 - 2 * t), 0.0).astype(np.float32)


def parse_rect(text: str) -> tuple[int, int, int, int]:
    """``"x,y,w,h"`` → four ints (pixels at the working size)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise OptionError(f"--grabcut {text!r}: give the rectangle as x,y,w,h in pixels, e.g. 40,30,120,90")
    return values  # type: ignore[return-value]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class MaskOptions:
    """Where content/style labels and the stylized region come from.

    Attributes
    ----------
    content_masks : str or None
        A folder of per-frame DPST-colour masks (natural order), one mask file (an image,
        or frame 1 of a video, propagated), or "auto" (k-means masks shared with the style).
    style_mask : str or None
        DPST-colour mask of the style image (needed unless the masks are "auto").
    auto_k : int or None
        Clusters of the automatic masks (2–9); implies ``content_masks="auto"`` unless
        another source is given.
    grabcut : (x, y, w, h) or None
        Rectangle around the foreground of frame 1; labels 0 (blue, background) and 1
        (green, foreground) unless it only defines the region (``region="grabcut"``).
    region : str or None
        Stylize only this region: a mask file (white = region), "grabcut", or
        "auto:LABEL" (label index or palette colour name of the automatic masks).
    """

    content_masks: str | None = None
    style_mask: str | None = None
    auto_k: int | None = None
    grabcut: tuple[int, int, int, int] | None = None
    region: str | None = None

    def __post_init__(self):
        if self.auto_k is not None and not 2 <= self.auto_k <= 9:
            raise OptionError(f"--auto-masks must be between 2 and 9 (the mask palette), got {self.auto_k}")
        if self.content_masks is not None and self.content_masks != "auto" and self.auto_k is not None:
            raise OptionError("--auto-masks computes the masks: drop it or --content-masks PATH")
        if self.region == "grabcut" and self.grabcut is None:
            raise OptionError("--region grabcut needs --grabcut x,y,w,h around the region")
        if self.region is not None and self.region.startswith("auto:"):
            self.region_label()  # validates
        source = self.label_source
        if source is not None and source != "auto" and self.style_mask is None:
            raise OptionError("content masks need --style-mask FILE painted with the same colours "
                              "(or use --content-masks auto)")
        if self.style_mask is not None and source is None:
            raise OptionError("--style-mask needs content masks: add --content-masks DIR|FILE|auto")
        if self.content_masks is not None and self.grabcut is not None and self.region != "grabcut":
            raise OptionError("give either --content-masks or --grabcut as the segmentation, not both")

    @property
    def label_source(self) -> str | None:
        """"auto", "files", "grabcut" or None (no segmentation)."""
        if self.content_masks == "auto" or (self.auto_k is not None and self.content_masks is None):
            return "auto"
        if self.content_masks is not None:
            return "files"
        if self.grabcut is not None and self.region != "grabcut":
            return "grabcut"
        return None

    @property
    def k(self) -> int:
        return self.auto_k or DEFAULT_AUTO_K

    def region_label(self) -> int:
        """The label index of ``region="auto:LABEL"``."""
        name = (self.region or "")[5:]
        names = list(PALETTE)
        if name.isdigit() and int(name) < len(names):
            return int(name)
        if name in names:
            return names.index(name)
        raise OptionError(f"--region auto:{name}: use a label index 0–8 or a colour "
                          f"({', '.join(names)}); see `vidstyle masks` output for the labels")

    def content_mask_files(self) -> list[Path]:
        """Mask files of a --content-masks folder in natural order, without the --style-mask
        file when it lies there (``vidstyle masks --auto`` writes style.png beside the frames)."""
        files = list_frame_files(Path(self.content_masks))
        if self.style_mask is not None:
            style = Path(self.style_mask).resolve()
            files = [f for f in files if f.resolve() != style]
        return files

    def describe(self) -> dict[str, Any]:
        """Settings plus the digests of the mask files (for resume checks)."""
        out: dict[str, Any] = dataclasses.asdict(self)
        files = {}
        for value in (self.content_masks, self.style_mask, self.region):
            if value and value not in ("auto", "grabcut") and not value.startswith("auto:"):
                path = Path(value)
                if path.is_file():
                    files[value] = _file_digest(path)
                elif path.is_dir():
                    listed = self.content_mask_files() if value == self.content_masks else list_frame_files(path)
                    files[value] = [_file_digest(p) for p in listed]
        out["files"] = files
        return out


def read_region(path: str | Path, shape_hw: tuple[int, int]) -> np.ndarray:
    """A region mask file (white/bright = region) → (H, W) {0, 1} int32 at ``shape_hw``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"region mask {path} not found: check --region")
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise InputError(f"cannot read region mask {path}: save it as a black/white PNG")
    h, w = grey.shape
    if abs((w / h) / (shape_hw[1] / shape_hw[0]) - 1) > 0.01:
        raise InputError(f"region mask {path} is {w}×{h} but the frames are {shape_hw[1]}×{shape_hw[0]}: "
                         "paint it on a frame of the same shape")
    grey = cv2.resize(grey, shape_hw[::-1], interpolation=cv2.INTER_NEAREST)
    return (grey >= 255 * REGION_THRESHOLD).astype(np.int32)


class MaskTrack:
    """Per-frame label maps and region masks of a clip (or one image).

    Parameters
    ----------
    options : MaskOptions
        The user's choices.
    frames : sequence of (H, W, 3) loaders
        ``frames[i]()`` returns content frame i (working size, float32 in [0, 1]).
    style : (H', W', 3) or None
        The style image (needed for "auto" masks).
    flow : callable or None
        ``flow(i)`` → (backward flow i → i−1, reliability) for i ≥ 1; None for one image.
    folder : Path or None
        Where per-frame labels are written (``labels/``, ``region/``) and read back on resume.
    seed : int
        Seed of k-means and GrabCut.
    """

    def __init__(self, options: MaskOptions, frames: Sequence[Callable[[], np.ndarray]],
                 style: np.ndarray | None, *, flow: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None,
                 folder: Path | None = None, seed: int = 0):
        self.options, self.frames, self.style = options, list(frames), style
        self.flow, self.folder, self.seed = flow, folder, seed
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        self._auto: tuple[np.ndarray, np.ndarray] | None = None
        self._files: list[Path] | None = None
        first_shape = self.frames[0]().shape[:2] if self.frames else (0, 0)
        self.shape = first_shape
        self.style_labels = self._style_labels()

    # ---- frame 1 / style ------------------------------------------------------------
    def _auto_pair(self) -> tuple[np.ndarray, np.ndarray]:
        if self._auto is None:
            if self.style is None:
                raise OptionError("automatic masks need the style image")
            self._auto = auto_masks(self.frames[0](), self.style, self.options.k, seed=self.seed)
        return self._auto

    def _style_labels(self) -> np.ndarray | None:
        source = self.options.label_source
        if source is None:
            return None
        if source == "auto":
            return self._auto_pair()[1]
        shape = None if self.style is None else self.style.shape[:2]
        return read_mask(self.options.style_mask, size=shape)

    def _mask_files(self) -> list[Path] | None:
        if self.options.content_masks in (None, "auto") or not Path(self.options.content_masks).is_dir():
            return None
        path = Path(self.options.content_masks)
        if self._files is None:
            files = self.options.content_mask_files()
            if len(files) != len(self.frames):
                raise InputError(f"{path} holds {len(files)} masks for {len(self.frames)} frames: give one "
                                 "mask per selected frame (natural order), or a single mask for frame 1")
            self._files = files
        return self._files

    def _first(self, kind: str) -> np.ndarray:
        opts = self.options
        if kind == "labels":
            source = opts.label_source
            if source == "auto":
                return self._auto_pair()[0]
            if source == "grabcut":
                return grabcut(self.frames[0](), opts.grabcut, seed=self.seed)
            files = self._mask_files()
            return read_mask(files[0] if files else opts.content_masks, size=self.shape)
        if opts.region == "grabcut":
            return grabcut(self.frames[0](), opts.grabcut, seed=self.seed)
        if opts.region.startswith("auto:"):
            return (self._auto_pair()[0] == opts.region_label()).astype(np.int32)
        return read_region(opts.region, self.shape)

    def _resegment(self, kind: str) -> Callable[[np.ndarray], np.ndarray] | None:
        opts = self.options
        if kind == "labels" and opts.label_source == "auto":
            return lambda frame: auto_masks(frame, self.style, opts.k, seed=self.seed)[0]
        if kind == "region" and opts.region.startswith("auto:"):
            label = opts.region_label()
            return lambda frame: (auto_masks(frame, self.style, opts.k, seed=self.seed)[0] == label).astype(np.int32)
        return None  # GrabCut/painted masks: unreliable pixels join their nearest reliable region

    # ---- per frame -------------------------------------------------------------------
    def _path(self, kind: str, i: int) -> Path | None:
        return None if self.folder is None else self.folder / kind / f"frame_{i + 1:05d}.png"

    def labels(self, i: int, kind: str = "labels") -> np.ndarray:
        """Label map of frame ``i`` ("labels") or its {0, 1} region map ("region")."""
        key = (kind, i)
        if key in self._cache:
            return self._cache[key]
        path = self._path(kind, i)
        if path is not None and path.is_file():
            labels = read_mask(path)
        elif kind == "labels" and self._mask_files() is not None:
            labels = read_mask(self._mask_files()[i], size=self.shape)
        elif i == 0:
            labels = self._first(kind)
        else:
            if self.flow is None:
                raise OptionError("propagating masks over frames needs optical flow")
            previous = self.labels(i - 1, kind)
            backward, reliability = self.flow(i)
            labels = propagate_labels(previous, backward, reliability, self.frames[i](), self._resegment(kind))
        labels = np.asarray(labels, np.int32)
        if path is not None and not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_mask(path, labels)
        self._cache = {k: v for k, v in self._cache.items() if k[1] >= i - 1}
        self._cache[key] = labels
        return labels

    def frame_masks(self, i: int, *, feather: float = 0.0) -> FrameMasks:
        """:class:`FrameMasks` of frame ``i`` (feather: fraction of the long side)."""
        labels = self.labels(i) if self.options.label_source else None
        region = None
        if self.options.region is not None:
            inside = self.labels(i, "region") == REGION_INSIDE
            region = feather_region(inside, feather * max(self.shape))
        return FrameMasks(labels=labels, region=region)
