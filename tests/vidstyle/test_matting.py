"""Tests for vidstyle.matting (Matting Laplacian, Levin et al. 2008; smoothing, Li et al. 2018)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf
from skimage import data, transform

from vidstyle.banded import apply_banded
from vidstyle.errors import InputError, OptionError
from vidstyle.losses import matting_loss
from vidstyle.matting import (
    laplacian_energy,
    matting_bands,
    matting_laplacian,
    normalized_matting_laplacian,
    smooth_affine,
)


def reference_laplacian(image: np.ndarray, epsilon: float, radius: int = 1) -> np.ndarray:
    """Dense Matting Laplacian by an explicit loop over windows (Levin's getLaplacian)."""
    h, w, _ = image.shape
    n = (2 * radius + 1) ** 2
    index = np.arange(h * w).reshape(h, w)
    out = np.zeros((h * w, h * w))
    for y in range(radius, h - radius):
        for x in range(radius, w - radius):
            win = image[y - radius:y + radius + 1, x - radius:x + radius + 1].reshape(-1, 3)
            ids = index[y - radius:y + radius + 1, x - radius:x + radius + 1].ravel()
            mu = win.mean(axis=0)
            cov = (win - mu).T @ (win - mu) / n
            inv = np.linalg.inv(cov + epsilon / n * np.eye(3))
            v = (1.0 + (win - mu) @ inv @ (win - mu).T) / n
            out[np.ix_(ids, ids)] += np.eye(n) - v
    return out


def photo(size: tuple[int, int]) -> np.ndarray:
    """skimage's astronaut photo resized to (H, W), float64 RGB in [0, 1]."""
    return transform.resize(data.astronaut() / 255.0, size, anti_aliasing=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.mark.parametrize("epsilon", [1e-7, 1e-5])
def test_equals_reference_on_tiny_image(rng, epsilon):
    image = rng.random((6, 5, 3))
    laplacian = matting_laplacian(image, epsilon=epsilon)
    assert isinstance(laplacian, scipy.sparse.csr_matrix)
    assert laplacian.shape == (30, 30)
    np.testing.assert_allclose(
        laplacian.toarray(), reference_laplacian(image, epsilon), rtol=0, atol=1e-10
    )


def test_equals_reference_with_5x5_windows(rng):
    image = rng.random((8, 7, 3))
    laplacian = matting_laplacian(image, epsilon=1e-5, window_radius=2)
    np.testing.assert_allclose(
        laplacian.toarray(), reference_laplacian(image, 1e-5, 2), rtol=0, atol=1e-10
    )


def test_symmetric_psd_rows_sum_to_zero():
    laplacian = matting_laplacian(photo((14, 12))).toarray()
    assert np.array_equal(laplacian, laplacian.T)
    np.testing.assert_allclose(laplacian.sum(axis=1), 0.0, atol=1e-8 * np.abs(laplacian).max())
    assert np.linalg.eigvalsh(laplacian).min() >= -1e-8 * np.abs(laplacian).max()


def test_normalized_laplacian_is_symmetric_psd():
    image = photo((12, 10))
    normalized = normalized_matting_laplacian(image).toarray()
    np.testing.assert_allclose(normalized, normalized.T, atol=1e-12)
    assert np.linalg.eigvalsh(normalized).min() >= -1e-8
    # D^{-1/2} L D^{-1/2}: same sparsity as L, rescaled by the window counts.
    laplacian = matting_laplacian(image).toarray()
    counts = np.full((12, 10), 9.0)
    counts[[0, -1], :] = counts[:, [0, -1]] = 3.0
    counts[[0, 0, -1, -1], [0, -1, 0, -1]] = 1.0
    counts[[1, -2], 1:-1] = counts[1:-1, [1, -2]] = 6.0
    counts[[1, 1, -2, -2], [1, -2, 1, -2]] = 4.0
    counts[[0, 0, -1, -1], [1, -2, 1, -2]] = counts[[1, 1, -2, -2], [0, -1, 0, -1]] = 2.0
    scale = 1.0 / np.sqrt(counts.ravel())
    np.testing.assert_allclose(normalized, scale[:, None] * laplacian * scale[None, :], atol=1e-9)


def test_locally_affine_image_has_near_zero_energy(rng):
    content = photo((48, 64))
    laplacian = matting_laplacian(content, epsilon=1e-7)
    mix = np.array([[0.5, 0.2, 0.1], [0.1, 0.6, 0.0], [0.2, 0.1, 0.4]])
    affine = np.clip(content @ mix.T + np.array([0.1, 0.05, 0.2]), 0, 1)
    noisy = np.clip(content + rng.normal(0.0, 0.05, content.shape), 0, 1)
    e_affine = laplacian_energy(laplacian, affine)
    e_noisy = laplacian_energy(laplacian, noisy)
    assert e_affine < 1e-3
    assert e_noisy > 1e3 * max(e_affine, 1e-9)
    assert e_noisy > 1.0


def test_smooth_affine_reduces_energy_and_keeps_edges(rng):
    # Content: two flat halves with a vertical edge.
    content = np.full((32, 40, 3), 0.2)
    content[:, 20:] = [0.8, 0.7, 0.3]
    stylized = np.empty_like(content)
    stylized[:, :20] = [0.1, 0.3, 0.6]
    stylized[:, 20:] = [0.9, 0.5, 0.1]
    stylized = np.clip(stylized + rng.normal(0, 0.08, content.shape), 0, 1)
    out = smooth_affine(stylized, content, lam=1e-3)
    assert out.shape == content.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    laplacian = matting_laplacian(content)
    assert laplacian_energy(laplacian, out) < 0.1 * laplacian_energy(laplacian, stylized)
    # Noise is gone inside each half ...
    assert out[:, 2:18].std(axis=(0, 1)).max() < 0.03
    # ... while the edge stays sharp: the colour jumps within two columns.
    jump = np.abs(out[:, 21].mean(axis=0) - out[:, 18].mean(axis=0))
    expected = np.abs(np.array([0.9, 0.5, 0.1]) - [0.1, 0.3, 0.6])
    assert np.all(jump > 0.7 * expected)


@pytest.mark.parametrize("radius", [1, 2])
def test_bands_are_the_diagonals_of_the_laplacian(rng, radius):
    image = rng.random((9, 11, 3))
    laplacian = matting_laplacian(image, epsilon=1e-5, window_radius=radius).toarray()
    bands = matting_bands(image, epsilon=1e-5, window_radius=radius)
    side = 4 * radius + 1
    assert bands.shape == (side * side, 9, 11) and bands.dtype == np.float64
    expected = np.zeros_like(bands)
    index = np.arange(99).reshape(9, 11)
    for o in range(side * side):
        dy, dx = o // side - 2 * radius, o % side - 2 * radius
        for y in range(9):
            for x in range(11):
                if 0 <= y + dy < 9 and 0 <= x + dx < 11:
                    expected[o, y, x] = laplacian[index[y, x], index[y + dy, x + dx]]
    np.testing.assert_array_equal(bands, expected)  # zero where the offset leaves the image


def test_apply_banded_equals_scipy_product(rng):
    image = rng.random((13, 17, 3))
    laplacian = matting_laplacian(image)
    bands = matting_bands(image)
    v = rng.random((3, 13, 17))  # channels first
    expected = (laplacian @ v.reshape(3, -1).T).T.reshape(v.shape)
    exact = apply_banded(tf.constant(bands), tf.constant(v)).numpy()  # float64: no shift wraps around
    np.testing.assert_allclose(exact, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    got = apply_banded(tf.constant(bands, tf.float32), tf.constant(v, tf.float32)).numpy()
    assert got.shape == v.shape and got.dtype == np.float32
    assert np.linalg.norm(got - expected) <= 1e-5 * np.linalg.norm(expected)
    graph = tf.function(apply_banded)(tf.constant(bands, tf.float32), tf.constant(v, tf.float32)).numpy()
    np.testing.assert_allclose(graph, got, rtol=1e-6, atol=1e-6 * np.abs(got).max())  # sum order may differ
    single = apply_banded(tf.constant(bands), tf.constant(v[1])).numpy()  # one (H, W) channel
    np.testing.assert_allclose(single, expected[1], rtol=0, atol=1e-12 * np.abs(expected).max())


def test_matting_loss_energy_and_gradient_match_scipy(rng):
    image = rng.random((13, 17, 3))
    laplacian = matting_laplacian(image)
    bands = tf.constant(matting_bands(image), tf.float32)
    v = rng.random((13, 17, 3)).astype(np.float32)
    x = tf.constant(v[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        energy = matting_loss(x, bands)
    gradient = tape.gradient(energy, x).numpy()[0]
    np.testing.assert_allclose(float(energy), laplacian_energy(laplacian, v), rtol=1e-5)
    expected = 2.0 * (laplacian @ v.reshape(-1, 3).astype(np.float64)).reshape(v.shape)  # 2·M·V_c
    assert np.linalg.norm(gradient - expected) <= 1e-5 * np.linalg.norm(expected)
    np.testing.assert_allclose(tf.function(matting_loss)(x, bands).numpy(), energy.numpy(), rtol=1e-6)


def test_matting_loss_gradient_check_float64(rng):
    image = rng.random((6, 7, 3))
    bands = tf.constant(matting_bands(image, epsilon=1e-3))
    x = tf.constant(rng.random((1, 6, 7, 3)))
    theoretical, numerical = tf.test.compute_gradient(lambda t: matting_loss(t, bands), [x])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "image",
    [np.zeros((5, 5)), np.zeros((5, 5, 4)), np.zeros((2, 9, 3)),
     np.zeros((5, 5, 3), dtype=np.uint8), np.full((5, 5, 3), 2.0),
     np.full((5, 5, 3), np.nan)],
)
def test_bad_images_raise_input_error(image):
    with pytest.raises(InputError):
        matting_laplacian(image)
    with pytest.raises(InputError):
        matting_bands(image)


@pytest.mark.parametrize("options", [{"epsilon": 0.0}, {"epsilon": -1.0},
                                     {"window_radius": 0}, {"window_radius": 1.5}])
def test_bad_options_raise_option_error(options):
    with pytest.raises(OptionError):
        matting_laplacian(np.zeros((6, 6, 3)), **options)
    with pytest.raises(OptionError):
        matting_bands(np.zeros((6, 6, 3)), **options)


def test_smooth_affine_bad_inputs():
    with pytest.raises(OptionError):
        smooth_affine(np.zeros((6, 6, 3)), np.zeros((6, 6, 3)), lam=0.0)
    with pytest.raises(InputError):
        smooth_affine(np.zeros((6, 6, 3)), np.zeros((7, 6, 3)))
