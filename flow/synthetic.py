"""Clips with known motion rendered from a real photo, with exact ground-truth flow.

The background moves by a similarity transform per frame (translation, rotation and
zoom about the frame centre); a textured rectangular occluder slides over it with its
own translation. Ground-truth flow and occlusion between any two frames follow in
closed form, so tests and ``benchmarks/bench_flow.py`` can score flow backends, the
consistency check and warping against exact answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from flow.errors import FlowError

__all__ = ["Motion", "SyntheticClip", "render_clip"]

# Extra border (pixels) of source image around everything any frame sees, so bilinear
# rendering never reads outside the source.
SOURCE_MARGIN = 4


@dataclass(frozen=True)
class Motion:
    """Screen motion per frame.

    Attributes
    ----------
    dx, dy : float
        Background translation per frame in pixels (content at ``p`` in frame ``k`` is
        at ``p + (dx, dy)`` in frame ``k + 1`` when there is no rotation or zoom).
    rotation_deg : float
        Background rotation per frame about the frame centre, degrees, counter-clockwise
        on screen (y axis pointing down, so positive angles turn x towards -y).
    zoom : float
        Background scale factor per frame about the frame centre (1 = none).
    occluder_dx, occluder_dy : float
        Translation of the occluder per frame in pixels.
    occluder_size : float
        Occluder side as a fraction of the frame's shorter side (0 = no occluder).
    """

    dx: float = 0.0
    dy: float = 0.0
    rotation_deg: float = 0.0
    zoom: float = 1.0
    occluder_dx: float = 0.0
    occluder_dy: float = 0.0
    occluder_size: float = 0.3


def _similarity(motion: Motion, k: float, center: np.ndarray) -> np.ndarray:
    """3x3 matrix G_k mapping frame-0 screen positions to frame-k positions."""
    angle = np.deg2rad(motion.rotation_deg * k)
    scale = motion.zoom**k
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[cos, sin], [-sin, cos]])
    offset = center - linear @ center + k * np.array([motion.dx, motion.dy])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = offset
    return matrix


@dataclass
class SyntheticClip:
    """Frames with known motion and exact ground truth between any two of them.

    Attributes
    ----------
    frames : list of np.ndarray
        ``(H, W, 3)`` uint8 RGB frames.
    motion : Motion
        The motion that rendered them.
    """

    frames: list[np.ndarray]
    motion: Motion
    _background: list[np.ndarray] = field(repr=False)  # 3x3 G_k per frame
    _occluder_origin: np.ndarray = field(repr=False)  # (x, y) of the occluder in frame 0
    _occluder_side: float = field(repr=False)
    _shape: tuple[int, int] = field(repr=False)  # (H, W)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return self._shape

    def occluder_mask(self, k: int) -> np.ndarray:
        """``(H, W)`` bool: pixels of frame ``k`` covered by the occluder."""
        height, width = self.shape
        x0, y0 = self._occluder_origin + k * np.array(
            [self.motion.occluder_dx, self.motion.occluder_dy]
        )
        xs = np.arange(width)[None, :]
        ys = np.arange(height)[:, None]
        side = self._occluder_side
        return (xs >= x0) & (xs < x0 + side) & (ys >= y0) & (ys < y0 + side)

    def flow(self, a: int, b: int) -> np.ndarray:
        """Exact flow from frame ``a`` to frame ``b``.

        Returns
        -------
        np.ndarray
            ``(H, W, 2)`` float32 in pixels on frame ``a``'s grid, channel 0 = x, such
            that ``frames[a](x)`` shows the point seen at ``frames[b](x + flow(x))``.
        """
        height, width = self.shape
        xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        points = np.stack([xs, ys, np.ones_like(xs)], axis=-1)
        to_b = self._background[b] @ np.linalg.inv(self._background[a])
        moved = points @ to_b.T
        result = moved[:, :, :2] - points[:, :, :2]
        occluder_step = (b - a) * np.array([self.motion.occluder_dx, self.motion.occluder_dy])
        result[self.occluder_mask(a)] = occluder_step
        return result.astype(np.float32)

    def occluded(self, a: int, b: int) -> np.ndarray:
        """``(H, W)`` bool on frame ``a``'s grid: pixels not visible in frame ``b``.

        A pixel is occluded when ``x + flow(x)`` leaves frame ``b`` or, for background
        pixels, lands under the occluder in frame ``b``.
        """
        height, width = self.shape
        flow = self.flow(a, b).astype(np.float64)
        target_x = np.arange(width)[None, :] + flow[:, :, 0]
        target_y = np.arange(height)[:, None] + flow[:, :, 1]
        outside = (target_x < 0) | (target_x > width - 1) | (target_y < 0) | (target_y > height - 1)
        col = np.clip(np.rint(target_x), 0, width - 1).astype(np.intp)
        row = np.clip(np.rint(target_y), 0, height - 1).astype(np.intp)
        hidden = ~self.occluder_mask(a) & self.occluder_mask(b)[row, col]
        return outside | hidden


def render_clip(
    image: np.ndarray,
    size: tuple[int, int],
    motion: Motion,
    n_frames: int = 2,
    *,
    occluder_image: np.ndarray | None = None,
) -> SyntheticClip:
    """Render ``n_frames`` frames of ``image`` moving by ``motion``, with ground truth.

    Parameters
    ----------
    image : np.ndarray
        ``(h, w, 3)`` uint8 RGB photo. It is resized with ``cv2.INTER_AREA`` so that it
        covers every frame's view, then sampled bilinearly.
    size : (int, int)
        ``(width, height)`` of the frames.
    motion : Motion
        Per-frame motion of background and occluder.
    n_frames : int
        Number of frames (at least 2).
    occluder_image : np.ndarray, optional
        RGB texture of the occluder; default: ``image`` flipped upside down.

    Returns
    -------
    SyntheticClip
    """
    width, height = size
    if n_frames < 2 or min(width, height) < 8:
        raise FlowError("render_clip needs at least 2 frames of at least 8x8 pixels")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise FlowError(f"render_clip needs an (h, w, 3) uint8 RGB image; got {image.shape}")
    center = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    background = [_similarity(motion, k, center) for k in range(n_frames)]

    # Frame-0 positions seen by every frame: inverse-map each frame's corners.
    corners = np.array(
        [[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], float
    )
    seen = np.concatenate([corners @ np.linalg.inv(g).T for g in background])[:, :2]
    low = seen.min(axis=0) - SOURCE_MARGIN
    high = seen.max(axis=0) + SOURCE_MARGIN
    # Scale the photo (aspect kept) so that it covers [low, high], centred on the view.
    span = high - low
    scale = max(span[0] / image.shape[1], span[1] / image.shape[0])
    src_w = int(np.ceil(image.shape[1] * scale))
    src_h = int(np.ceil(image.shape[0] * scale))
    source = cv2.resize(image, (src_w, src_h), interpolation=cv2.INTER_AREA)
    # Frame-0 position p sits at source position p - origin.
    origin = (low + high) / 2.0 - np.array([src_w - 1, src_h - 1]) / 2.0

    side = float(motion.occluder_size * min(width, height))
    texture_source = np.ascontiguousarray(image[::-1]) if occluder_image is None else occluder_image
    side_px = max(int(np.ceil(side)) + 2, 2)
    texture = cv2.resize(texture_source, (side_px, side_px), interpolation=cv2.INTER_AREA)
    # The occluder starts left of centre and slides with its own velocity.
    occluder_origin = np.array([width * 0.3 - side / 2.0, height * 0.5 - side / 2.0])

    clip = SyntheticClip([], motion, background, occluder_origin, side, (height, width))
    for k in range(n_frames):
        # dst -> src for warpAffine with WARP_INVERSE_MAP: src = G_k^-1 p - origin.
        to_source = np.linalg.inv(background[k])
        to_source[:2, 2] -= origin
        frame = cv2.warpAffine(
            source,
            to_source[:2].astype(np.float64),
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        if side > 0:
            position = occluder_origin + k * np.array([motion.occluder_dx, motion.occluder_dy])
            shift = np.array([[1.0, 0.0, -position[0]], [0.0, 1.0, -position[1]]])
            patch = cv2.warpAffine(
                texture,
                shift,
                (width, height),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
            mask = clip.occluder_mask(k)
            frame[mask] = patch[mask]
        clip.frames.append(frame)
    return clip
