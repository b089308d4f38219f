"""Time the Matting Laplacian build and the closed-form smoothing on a real photo.

Usage::

    .venv/bin/python benchmarks/bench_matting.py [--repeats 3]

Prints a Markdown table (median wall time of ``--repeats`` runs) for
`vidstyle.matting.matting_laplacian` at 512×218 and 1024×436 (the MPI-Sintel frame
size) and `smooth_affine` at 512×218, on skimage's astronaut photo resized with
INTER_AREA, ε = 1e-7, 3×3 windows.
"""

from __future__ import annotations

import argparse
import platform
import time

import cv2
import numpy as np
from skimage import data

from vidstyle.matting import matting_laplacian, smooth_affine

SIZES = ((512, 218), (1024, 436))  # (width, height)


def photo(width: int, height: int) -> np.ndarray:
    image = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_AREA)
    return image.astype(np.float64) / 255.0


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for width, height in SIZES:
        image = photo(width, height)
        seconds, laplacian = median_time(lambda image=image: matting_laplacian(image), args.repeats)
        rows.append((f"matting_laplacian {width}x{height}", seconds, f"nnz {laplacian.nnz:,}"))
    width, height = SIZES[0]
    content = photo(width, height)
    rng = np.random.default_rng(0)
    stylized = np.clip(content[..., ::-1] * 0.8 + 0.1 + rng.normal(0, 0.05, content.shape), 0, 1)
    seconds, _ = median_time(lambda: smooth_affine(stylized, content), max(1, args.repeats - 2))
    rows.append((f"smooth_affine {width}x{height} (λ = 1e-4)", seconds, "sparse LU, 3 channels"))
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, "
          f"numpy {np.__version__}")
    print("| operation | median time (s) | notes |")
    print("|---|---|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.2f} | {note} |")


if __name__ == "__main__":
    main()
