"""Make the tiny clips and style image that examples/batch.toml renders.

Two short clips with exact known motion rendered from real photos (scikit-image's
astronaut and coffee) and a style image (immunohistochemistry stain), written to
examples/batch_media/ (a few hundred kB):

    python examples/batch_assets.py
    vidstyle batch examples/batch.toml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from flow.synthetic import Motion, render_clip

CLIPS = {
    "pan": ("astronaut", Motion(dx=2.0, dy=0.5, occluder_dx=-1.5)),
    "zoom": ("coffee", Motion(zoom=1.02, rotation_deg=0.5, occluder_dy=1.0)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "batch_media")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--width", type=int, default=192)
    args = parser.parse_args()
    height = args.width * 9 // 16
    for name, (photo, motion) in CLIPS.items():
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        clip = render_clip(getattr(skimage.data, photo)(), (args.width, height), motion, args.frames)
        for k, frame in enumerate(clip.frames, start=1):
            cv2.imwrite(str(folder / f"frame_{k:04d}.png"), np.ascontiguousarray(frame[..., ::-1]))
    style = skimage.data.immunohistochemistry()
    cv2.imwrite(str(args.out / "stain.png"), cv2.resize(style, (256, 256), interpolation=cv2.INTER_AREA)[..., ::-1])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
