"""Make the photo pair and masks that examples/photoreal_*.sh use, from scikit-image's data.

Writes examples/data/ (about 300 kB; see examples/data/README.md for where it comes from):

- ``content.png``: scikit-image's ``rocket`` photo (Falcon 9 at dusk, a deep blue sky),
  384 px on the long side;
- ``style.png``: the same photo mirrored, with its sky regraded into a sunset (purple at
  the top, red, orange and yellow toward the horizon) and the structures warmed: a
  synthetic reference photo, so the example needs no download;
- ``seg_content.png``, ``seg_style.png``: their masks in the DPST colours (blue = sky,
  green = everything else), so sky takes the sunset sky and the towers the towers;
- ``region_sky.png``: the content's sky in white on black, for ``--region``.

    python examples/photoreal_assets.py          # the scripts run it when data/ is missing
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import skimage.data

#: Sunset sky, top to bottom (RGB in [0, 1]): sampled at these heights of the sky and
#: interpolated between them.
SUNSET = ((0.00, (0.23, 0.13, 0.35)), (0.35, (0.62, 0.20, 0.30)), (0.65, (0.93, 0.42, 0.20)),
          (1.00, (1.00, 0.80, 0.42)))
#: Warm cast of everything that is not sky.
WARM = np.array([1.15, 0.85, 0.62])
#: DPST mask colours (RGB): sky, the rest.
BLUE, GREEN = (0, 0, 255), (0, 255, 0)
#: The sky: blue dominates red by this much, brighter than this (0–255), above the ground line.
SKY_BLUE_OVER_RED = 15
SKY_MIN_VALUE = 40
GROUND_LINE = 0.9


def sky_mask(rgb: np.ndarray) -> np.ndarray:
    """(H, W) bool: the blue dusk sky of the rocket photo (colour threshold, cleaned)."""
    r, b = rgb[..., 0].astype(int), rgb[..., 2].astype(int)
    value = rgb.max(axis=2)
    sky = (b > r + SKY_BLUE_OVER_RED) & (value > SKY_MIN_VALUE)
    sky[int(GROUND_LINE * len(sky)):] = False
    kernel = np.ones((3, 3), np.uint8)
    sky = cv2.morphologyEx(sky.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return cv2.morphologyEx(sky, cv2.MORPH_CLOSE, kernel).astype(bool)


def sunset(rgb: np.ndarray, sky: np.ndarray) -> np.ndarray:
    """The photo with its sky regraded to :data:`SUNSET` (its brightness texture kept) and the rest warmed."""
    image = rgb.astype(np.float64) / 255.0
    rows = np.nonzero(sky.any(axis=1))[0]
    height = np.clip((np.arange(len(image)) - rows.min()) / max(rows.max() - rows.min(), 1), 0, 1)
    stops, colours = zip(*SUNSET, strict=True)
    gradient = np.stack([np.interp(height, stops, [c[k] for c in colours]) for k in range(3)], axis=1)
    luminance = image.mean(axis=2, keepdims=True)
    texture = np.sqrt(luminance / max(float(luminance[sky].mean()), 1e-6))
    out = np.clip(image * WARM * 0.8, 0, 1)
    out[sky] = np.clip(gradient[:, None, :] * texture, 0, 1)[sky]
    return (out * 255 + 0.5).astype(np.uint8)


def mask_image(sky: np.ndarray) -> np.ndarray:
    """DPST colour mask: blue sky, green rest."""
    return np.where(sky[..., None], np.array(BLUE, np.uint8), np.array(GREEN, np.uint8))


def write(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"cannot write {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    parser.add_argument("--size", type=int, default=384, help="Long side of the images in pixels.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    photo = skimage.data.rocket()
    h, w = photo.shape[:2]
    scale = args.size / max(h, w)
    photo = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    sky = sky_mask(photo)
    write(args.out / "content.png", photo)
    write(args.out / "seg_content.png", mask_image(sky))
    write(args.out / "region_sky.png", np.repeat(sky[..., None], 3, axis=2).astype(np.uint8) * 255)
    mirrored, mirrored_sky = photo[:, ::-1], sky[:, ::-1]
    write(args.out / "style.png", sunset(mirrored, mirrored_sky))
    write(args.out / "seg_style.png", mask_image(mirrored_sky))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
