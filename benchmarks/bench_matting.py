"""Time the Matting Laplacian build and the closed-form smoothing on a real photo.

Usage::

    .venv/bin/python benchmarks/bench_matting.py [--repeats 3]

Prints a Markdown table (median wall time of ``--repeats`` runs) for
`vidstyle.matting.matting_laplacian` at 512×218 and 1024×436 (the MPI-Sintel frame
size), `smooth_affine` at 512×218, and the product M·V of the optimizer's loss at
512×512 (compiled `tf.function`, float32, on the default TensorFlow device): the banded
`vidstyle.banded.apply_banded` against the ``tf.sparse.sparse_dense_matmul`` it
replaced (kept here only for the comparison; it has no deterministic GPU kernel), the
product alone and the matting energy with its gradient (one optimizer evaluation). All
on skimage's astronaut photo resized with INTER_AREA, ε = 1e-7, 3×3 windows.
"""

from __future__ import annotations

import argparse
import platform
import time

import cv2
import numpy as np
import tensorflow as tf
from skimage import data

from vidstyle.banded import apply_banded
from vidstyle.losses import matting_loss
from vidstyle.matting import matting_bands, matting_laplacian, smooth_affine

SIZES = ((512, 218), (1024, 436))  # (width, height)
PRODUCT_SIZE = (512, 512)  # (width, height) of the M·V timing


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


def sparse_tensor(laplacian) -> tf.sparse.SparseTensor:
    """The (N, N) float32 SparseTensor the loss used before the banded form."""
    coo = laplacian.tocoo()  # from CSR: canonical row-major order
    return tf.sparse.SparseTensor(np.stack([coo.row, coo.col], axis=1).astype(np.int64),
                                  coo.data.astype(np.float32), np.asarray(coo.shape, np.int64))


def product_rows(repeats: int) -> list[tuple[str, float, str]]:
    """Median ms of M·V and of the energy with its gradient, banded vs sparse, compiled."""
    width, height = PRODUCT_SIZE
    content = photo(width, height)
    bands = tf.constant(matting_bands(content), tf.float32)
    sparse = sparse_tensor(matting_laplacian(content))
    rng = np.random.default_rng(0)
    v = tf.constant(rng.random((height, width, 3), np.float32))

    def sparse_loss(image, laplacian):  # the former losses.matting_loss
        flat = tf.reshape(image[0], (-1, 3))
        return tf.reduce_sum(flat * tf.sparse.sparse_dense_matmul(laplacian, flat))

    def with_gradient(loss, m):
        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                energy = loss(x, m)
            return energy, tape.gradient(energy, x)
        return run

    cases = [
        ("M·V banded (apply_banded, from HWC)",
         tf.function(lambda x: apply_banded(bands, tf.transpose(x, (2, 0, 1)))), v),
        ("M·V sparse (sparse_dense_matmul)",
         tf.function(lambda x: tf.sparse.sparse_dense_matmul(sparse, tf.reshape(x, (-1, 3)))), v),
        ("energy + gradient banded (matting_loss)", with_gradient(matting_loss, bands), v[None]),
        ("energy + gradient sparse (former)", with_gradient(sparse_loss, sparse), v[None]),
    ]
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    rows = []
    for name, fn, x in cases:
        fn(x)  # trace and warm up
        seconds, _ = median_time(lambda fn=fn, x=x: tf.nest.map_structure(lambda t: t.numpy(), fn(x)),
                                 max(repeats, 5))
        rows.append((f"{name} {width}x{height}", seconds * 1e3, f"{device}, float32"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--product-only", action="store_true", help="only the M·V timings")
    args = parser.parse_args()
    product = product_rows(args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, "
          f"numpy {np.__version__}, tensorflow {tf.__version__}")
    print("| operation | median time (ms) | notes |")
    print("|---|---|---|")
    for name, ms, note in product:
        print(f"| {name} | {ms:.1f} | {note} |")
    if args.product_only:
        return
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
    print()
    print("| operation | median time (s) | notes |")
    print("|---|---|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.2f} | {note} |")


if __name__ == "__main__":
    main()
