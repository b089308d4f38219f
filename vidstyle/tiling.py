"""Tiled, bounded-memory evaluation of the feature losses (content and Gram style).

Peak memory of one optimizer step is dominated by the VGG activations kept for the
backward pass (about 3 GB per megapixel on CPU), so a 4K frame cannot be differentiated
in one piece. Both feature losses are sums over positions:

* a Gram matrix ``G_l = Σ_p F_l(p) F_l(p)ᵀ / (H_l·W_l)`` is the sum of the Grams of any
  partition of the positions (style targets stay global);
* the content loss is a mean of per-position squared differences.

So the image is cut into tiles whose *cores* partition it; each tile is evaluated with a
*halo* as wide as the receptive field of the deepest layer used, which makes the core's
activations exactly those of the whole image (the zero padding of the tile's own border
never reaches the core). Core and halo sizes are multiples of the net's total pooling
stride, so every layer's grid lines up. The step then runs in two passes over the tiles,
one tile at a time (``parallel_iterations=1``):

1. forward only: sum the tile Grams (and the content loss) → the global Grams G;
2. forward + backward of the surrogate ``Σ_l <∂L/∂G_l, G_l(tile)> + content(tile)``,
   whose gradient is the tile's exact share of the full gradient; shares of
   overlapping halos add up.

The per-pixel terms (total variation, temporal, matting) are cheap and computed on the
whole image. The second forward pass costs about a third of a step; halos cost
``((core + 2·halo)/core)² − 1`` (see benchmarks/RESULTS.md, "Resolution").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["TileGrid", "TilePlan", "auto_tile", "plan_stages", "plan_tiles", "receptive_field"]

#: Peak bytes per pixel of one untiled VGG16 step to relu5_1 on CPU (measured: 3.3 GiB at
#: 720p, 7.1 GB at 1080p → ≈ 3 GB per megapixel beyond the base).
STEP_BYTES_PER_PIXEL = 3000
#: Bytes per image pixel kept whatever the tiling: the image, gradient, L-BFGS history and
#: temporaries, the split layer's output (measured ≈ 0.5–0.7 GB per megapixel).
STATE_BYTES_PER_PIXEL = 600
#: Peak bytes per pixel of a tile's area (both stages; measured at 1080p, tiles 512 vs 1024).
TILE_BYTES_PER_PIXEL = 1000
#: TensorFlow, the weights and the process itself.
BASE_BYTES = 800 << 20
#: Smallest tile worth running (long side, pixels, halo included).
MIN_TILE = 256


@dataclass(frozen=True)
class TileGrid:
    """Tiles of an image: cores partition it, padded boxes add the halo.

    Attributes
    ----------
    shape_hw : (int, int)
        Image size.
    boxes : (N, 8) int32 array
        Per tile ``core_y0, core_y1, core_x0, core_x1, pad_y0, pad_y1, pad_x0, pad_x1``
        (half-open pixel ranges).
    halo : int
        Halo width in pixels (a multiple of ``align``).
    align : int
        Total pooling stride of the net up to the deepest layer used.
    """

    shape_hw: tuple[int, int]
    boxes: np.ndarray
    halo: int
    align: int

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def largest_tile(self) -> tuple[int, int]:
        """(height, width) of the largest padded tile."""
        return (int((self.boxes[:, 5] - self.boxes[:, 4]).max()), int((self.boxes[:, 7] - self.boxes[:, 6]).max()))

    @property
    def overhead(self) -> float:
        """Pixels evaluated (halos included) over image pixels, minus 1."""
        area = ((self.boxes[:, 5] - self.boxes[:, 4]) * (self.boxes[:, 7] - self.boxes[:, 6])).sum()
        return float(area) / (self.shape_hw[0] * self.shape_hw[1]) - 1.0


def receptive_field(sequence: list[str]) -> tuple[int, int]:
    """(radius in pixels, total stride) of the last layer of a VGG layer ``sequence``.

    A 3×3 conv widens the field by one step of the current grid on each side, a 2×2
    pooling by one more and doubles the step.
    """
    radius, stride = 0, 1
    for name in sequence:
        if name.startswith("conv"):
            radius += stride
        elif name.startswith("pool"):
            radius += stride
            stride *= 2
    return radius, stride


def _cuts(length: int, core: int, stride: int) -> list[tuple[int, int]]:
    """Split [0, length) into near-equal ranges of at most ``core``, starting at multiples of ``stride``."""
    count = max(1, math.ceil(length / core))
    size = math.ceil(length / count / stride) * stride
    return [(k * size, min(length, (k + 1) * size)) for k in range(count) if k * size < length]


def plan_tiles(shape_hw: tuple[int, int], tile: int, *, radius: int, stride: int) -> TileGrid:
    """Tiles whose padded long side is at most about ``tile`` pixels.

    Parameters
    ----------
    shape_hw : (int, int)
        Image size.
    tile : int
        Target long side of a padded tile (core + 2 halos), pixels.
    radius, stride : int
        From :func:`receptive_field`: the halo is ``radius`` rounded up to ``stride``.

    Returns
    -------
    TileGrid
        One tile covering the image when it is not larger than ``tile``.
    """
    h, w = shape_hw
    halo = -(-radius // stride) * stride
    if max(h, w) <= tile:
        return TileGrid((h, w), np.array([[0, h, 0, w, 0, h, 0, w]], np.int32), halo, stride)
    core = max(stride, (tile - 2 * halo) // stride * stride)
    boxes = []
    for y0, y1 in _cuts(h, core, stride):
        for x0, x1 in _cuts(w, core, stride):
            boxes.append([y0, y1, x0, x1, max(0, y0 - halo), min(h, y1 + halo), max(0, x0 - halo), min(w, x1 + halo)])
    return TileGrid((h, w), np.array(boxes, np.int32), halo, stride)


def available_memory_bytes() -> int:
    """Memory this process may use: MemAvailable of /proc/meminfo (Linux), else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def auto_tile(shape_hw: tuple[int, int], budget_bytes: int | None = None) -> int:
    """Tile long side that keeps a step within ``budget_bytes`` (default: half the available memory).

    Returns the image's long side (no tiling) when the whole step fits.
    """
    budget = budget_bytes if budget_bytes is not None else available_memory_bytes() // 2
    pixels = shape_hw[0] * shape_hw[1]
    room = budget - BASE_BYTES - STATE_BYTES_PER_PIXEL * pixels
    if STEP_BYTES_PER_PIXEL * pixels <= room:
        return max(shape_hw)
    side = int(math.sqrt(max(room, 0) / TILE_BYTES_PER_PIXEL))
    return max(MIN_TILE, min(side, max(shape_hw)))


# ---- TensorFlow side ------------------------------------------------------------------------
def layer_strides(sequence: list[str], layers: list[str]) -> dict[str, int]:
    """Grid stride (pixels per position) of each of ``layers`` in a VGG layer ``sequence``."""
    strides, stride = {}, 1
    for name in sequence:
        if name.startswith("pool"):
            stride *= 2
        if name in layers:
            strides[name] = stride
    return strides


def core_of(features, box, stride: int):
    """The core positions of a tile's features (1, h, w, C) on a layer of ``stride``."""
    y0, x0 = (box[0] - box[4]) // stride, (box[2] - box[6]) // stride
    y1, x1 = (box[1] - box[4]) // stride, (box[3] - box[6]) // stride
    return features[:, y0:y1, x0:x1, :]


def full_box(box, stride: int):
    """The tile core's (y0, y1, x0, x1) on the whole image's grid of a layer of ``stride``."""
    return box[0] // stride, box[1] // stride, box[2] // stride, box[3] // stride


def _place(core, box, stride: int, full_hw):
    """Zero-pad a core map (1, h, w, C) to its place on the whole grid (1, H, W, C)."""
    import tensorflow as tf

    y0, y1, x0, x1 = full_box(box, stride)
    return tf.pad(core, [[0, 0], [y0, full_hw[0] - y1], [x0, full_hw[1] - x1], [0, 0]])


def tiled_forward(x, grid: TileGrid, tile_fn, *, placed_stride: int = 1, placed_channels: int = 0):
    """Sum ``tile_fn``'s statistics over the tiles and assemble its placed cores.

    Parameters
    ----------
    x : tf.Tensor (H, W, C)
        The input map (an image, or features of an earlier stage).
    grid : TileGrid
        Tiles of ``x``.
    tile_fn : callable
        ``tile_fn(tile (1, h, w, C), box) → (stats, placed)``: ``stats`` a dict of sums over
        the tile's core positions (same shapes for every tile); ``placed`` the core of a
        map on a grid of ``placed_stride`` (e.g. the features a later stage starts from),
        or None.
    placed_stride, placed_channels : int
        Grid stride and channels of ``placed``.

    Returns
    -------
    stats : dict
        Summed statistics.
    placed : tf.Tensor (1, H / stride, W / stride, C) or None
        The assembled map.
    """
    import tensorflow as tf

    boxes = tf.constant(grid.boxes)
    placed_hw = (grid.shape_hw[0] // placed_stride, grid.shape_hw[1] // placed_stride)

    def crop(box):
        return x[box[4]:box[5], box[6]:box[7]][None]

    first, core = tile_fn(crop(boxes[0]), boxes[0])
    names = sorted(first)
    placed = None if core is None else _place(core, boxes[0], placed_stride, placed_hw)
    if len(grid) == 1:
        return first, placed

    def add(i, acc, placed):
        stats, core = tile_fn(crop(boxes[i]), boxes[i])
        acc = [a + stats[n] for a, n in zip(acc, names, strict=True)]
        if core is not None:
            placed = placed + _place(core, boxes[i], placed_stride, placed_hw)
        return i + 1, acc, placed

    start = placed if placed is not None else tf.zeros((1, 1, 1, 1))
    invariants = (tf.TensorShape([]), [tf.TensorShape(first[n].shape) for n in names],
                  tf.TensorShape([1, *placed_hw, placed_channels]) if placed is not None else start.shape)
    _, sums, placed_out = tf.while_loop(lambda i, acc, p: i < len(grid), add,
                                        (tf.constant(1), [first[n] for n in names], start),
                                        shape_invariants=invariants, parallel_iterations=1)
    return dict(zip(names, sums, strict=True)), (placed_out if placed is not None else None)


def tiled_backward(x, grid: TileGrid, tile_fn, seeds, placed_seed=None, *, placed_stride: int = 1):
    """Gradient w.r.t. ``x`` of ``Σ_n <seeds[n], stats[n]> + <placed_seed, placed>``, tile by tile.

    With ``seeds`` = ∂L/∂stats and ``placed_seed`` = ∂L/∂placed of a loss L of
    :func:`tiled_forward`'s outputs, this is ∂L/∂x: each tile adds its share, halos overlap.
    """
    import tensorflow as tf

    boxes = tf.constant(grid.boxes)
    h, w = grid.shape_hw

    def share(box):
        tile = x[box[4]:box[5], box[6]:box[7]][None]
        with tf.GradientTape() as tape:
            tape.watch(tile)
            stats, core = tile_fn(tile, box)
            parts = [tf.reduce_sum(seeds[n] * stats[n]) for n in stats if seeds.get(n) is not None]
            if core is not None and placed_seed is not None:
                y0, y1, x0, x1 = full_box(box, placed_stride)
                parts.append(tf.reduce_sum(placed_seed[:, y0:y1, x0:x1, :] * core))
            surrogate = tf.add_n(parts)
        g = tape.gradient(surrogate, tile)[0]
        return tf.pad(g, [[box[4], h - box[5]], [box[6], w - box[7]], [0, 0]])

    if len(grid) == 1:
        return share(boxes[0])
    _, grad = tf.while_loop(lambda i, g: i < len(grid), lambda i, g: (i + 1, g + share(boxes[i])),
                            (tf.constant(0), tf.zeros_like(x)), parallel_iterations=1)
    return grad


def tiled_value_and_grad(x, grid: TileGrid, tile_fn, combine):
    """Loss, terms and ∂L/∂x of ``L = combine(Σ_tiles stats)`` for a ``tile_fn`` without placed output.

    One tile: a single forward and backward. Several: a forward pass for the global
    statistics, then :func:`tiled_backward`.
    """
    import tensorflow as tf

    if len(grid) == 1:
        with tf.GradientTape() as tape:
            tape.watch(x)
            stats, _ = tile_fn(x[None], tf.constant(grid.boxes[0]))
            loss, terms = combine(stats)
        return loss, terms, tape.gradient(loss, x)
    stats, _ = tiled_forward(x, grid, tile_fn)
    with tf.GradientTape() as tape:
        tape.watch(stats)
        loss, terms = combine(stats)
    seeds = tape.gradient(loss, stats)
    return loss, terms, tiled_backward(x, grid, tile_fn, seeds)


#: A tiled step runs the net in two stages around this layer: the full-resolution early
#: layers (most of the memory) in tiles with a small halo, the rest on its 4× coarser output.
SPLIT_LAYER = "pool2"
#: Second-stage tiles (on the split layer's grid) have this fraction of the first's long side:
#: per position they hold ~6× the first stage's activations per pixel (measured peak RSS).
FEATURE_TILE_FRACTION = 0.4


@dataclass(frozen=True)
class TilePlan:
    """Tiling of one step: image tiles, and tiles of the split layer's output (second stage).

    Attributes
    ----------
    image : TileGrid
        Tiles of the image (first stage, or the only one when ``features`` is None).
    features : TileGrid or None
        Tiles of the split layer's output, on its grid.
    split : str or None
        The layer the stages meet at.
    split_stride : int
        Its grid stride.
    """

    image: TileGrid
    features: TileGrid | None = None
    split: str | None = None
    split_stride: int = 1

    @property
    def tiled(self) -> bool:
        return len(self.image) > 1 or (self.features is not None and len(self.features) > 1)

    @property
    def tiles(self) -> int:
        return len(self.image) + (len(self.features) if self.features is not None else 0)


def plan_stages(sequence: list[str], shape_hw: tuple[int, int], tile: int) -> TilePlan:
    """The :class:`TilePlan` of a net ``sequence`` (layer names up to the deepest used) at ``shape_hw``."""
    radius, stride = receptive_field(sequence)
    if max(shape_hw) <= tile:
        return TilePlan(plan_tiles(shape_hw, tile, radius=radius, stride=stride))
    if SPLIT_LAYER not in sequence[:-1]:
        return TilePlan(plan_tiles(shape_hw, tile, radius=radius, stride=stride))
    k = sequence.index(SPLIT_LAYER) + 1
    radius, stride = receptive_field(sequence[:k])
    image = plan_tiles(shape_hw, tile, radius=radius, stride=stride)
    feature_hw = (shape_hw[0] // stride, shape_hw[1] // stride)
    deep_radius, deep_stride = receptive_field(sequence[k:])
    feature_tile = max(int(tile * FEATURE_TILE_FRACTION), 4 * deep_radius)
    if feature_hw[0] * feature_hw[1] <= feature_tile**2:
        # Its memory is bounded by area: untiled when the whole output fits a tile's area,
        # which saves the second stage's extra forward pass and halos.
        feature_tile = max(feature_hw)
    features = plan_tiles(feature_hw, feature_tile, radius=deep_radius, stride=deep_stride)
    return TilePlan(image, features, SPLIT_LAYER, stride)
