"""A dense, high-contrast painted style image for benchmarks, made from a seed.

Style images like Johnson's "Candy" (a dense mosaic of saturated strokes with dark
outlines) are the hardest case for a short optimization: their Gram statistics carry
strong, fine, high-contrast texture at every style layer, so the style loss starts far
from its optimum and falls slowly. No such painting ships with the packages this project
installs (scikit-image's data are photographs and micrographs), and a famous painting may
not be redistributed here, so benchmarks draw a stand-in: thousands of overlapping brush
strokes in a saturated palette, each outlined in near-black, over a coloured mosaic.
The same seed gives the same picture.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Saturated palette (RGB, 0–255) in the spirit of pop-art mosaics: red, orange, yellow,
#: pink, violet, blue, teal, green, cream.
PALETTE = np.array([(228, 26, 28), (255, 127, 0), (255, 221, 0), (247, 104, 161), (152, 78, 163),
                    (33, 102, 232), (0, 170, 170), (77, 175, 74), (250, 240, 210)], np.float64)
OUTLINE = (20, 14, 30)


def dense_painting(size: int = 512, *, seed: int = 0, strokes: int = 2500) -> np.ndarray:
    """A (size, size, 3) float32 RGB image in [0, 1]: dense outlined strokes over a mosaic."""
    rng = np.random.default_rng(seed)
    # Mosaic ground: nearest of 300 random centres, each a palette colour.
    centres = rng.uniform(0, size, (300, 2))
    colours = PALETTE[rng.integers(0, len(PALETTE), len(centres))]
    yy, xx = np.mgrid[0:size, 0:size]
    nearest = np.argmin((yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2, axis=-1)
    canvas = np.ascontiguousarray(colours[nearest].astype(np.uint8))
    for _ in range(strokes):
        length, width = rng.uniform(0.02, 0.08) * size, int(rng.integers(2, max(3, size // 60)))
        angle = rng.uniform(0, np.pi)
        start = rng.uniform(0, size, 2)
        bend = rng.normal(0, 0.3)
        points = []
        for t in np.linspace(0, 1, 6):
            a = angle + bend * t
            points.append(start + length * t * np.array([np.cos(a), np.sin(a)]))
        points = np.round(np.array(points)).astype(np.int32).reshape(-1, 1, 2)
        colour = tuple(int(c) for c in PALETTE[rng.integers(0, len(PALETTE))] * rng.uniform(0.75, 1.0))
        cv2.polylines(canvas, [points], False, OUTLINE, width + 2, lineType=cv2.LINE_AA)
        cv2.polylines(canvas, [points], False, colour, width, lineType=cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


if __name__ == "__main__":
    import sys

    cv2.imwrite(sys.argv[1] if len(sys.argv) > 1 else "painting.png",
                (dense_painting()[..., ::-1] * 255).round().astype(np.uint8))
