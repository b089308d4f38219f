"""Temporal coupling helpers: the warp chain must not blur the result; known answers of the warped
init, the long-term weights c_long and the multi-pass blend on tiny hand-made arrays."""

from __future__ import annotations

import numpy as np
import skimage.data

from vidstyle.images import resize_long_side
from vidstyle.temporal import multipass_init, temporal_target, temporal_targets, warped_init


def _gradient_energy(image: np.ndarray) -> float:
    inner = image[8:-8, 8:-8]  # away from the content-filled border
    return float(np.abs(np.diff(inner, axis=0)).mean() + np.abs(np.diff(inner, axis=1)).mean())


def _chain(image: np.ndarray, step, count: int = 10) -> np.ndarray:
    """Feed ``image`` through ``count`` frames of random sub-pixel motion, as the video loop does."""
    rng = np.random.default_rng(1)
    for _ in range(count):
        flow = np.zeros((*image.shape[:2], 2), np.float32)
        flow[..., 0], flow[..., 1] = rng.uniform(-0.5, 0.5, 2)
        image = step(image, flow)
    return image


def test_warp_chain_keeps_detail():
    # A textured "stylized" frame (the micrograph's stain pattern) through 10 frames of
    # sub-pixel motion: the default (cubic) kernel keeps ~78 % of its gradient energy where
    # the bilinear one (Ruder's) leaves ~34 %, the blur that made long clips drift (issue 10).
    texture = resize_long_side(skimage.data.immunohistochemistry().astype(np.float32) / 255.0, 64)
    content = np.full_like(texture, 0.5)
    before = _gradient_energy(texture)

    def init_step(kernel=None):
        extra = {} if kernel is None else {"interpolation": kernel}
        return lambda image, flow: warped_init(image, flow, content, **extra)

    def target_step(image, flow):
        return temporal_target(image, flow, np.ones(image.shape[:2], np.float32)).warped

    default = _gradient_energy(_chain(texture, init_step())) / before
    bilinear = _gradient_energy(_chain(texture, init_step("linear"))) / before
    target = _gradient_energy(_chain(texture, target_step)) / before
    assert bilinear < 0.45
    assert default > 0.7 and target > 0.7


# ---- known answers (issue 11, item 11) ----------------------------------------------------------

H, W = 6, 8


def _shift_flow(dx: int, dy: int) -> np.ndarray:
    """Constant integer flow: out(x, y) = image(x + dx, y + dy)."""
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = dx, dy
    return flow


def _random_image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.05, 0.95, (H, W, 3)).astype(np.float32)


def test_warped_init_integer_shift_is_exact_and_disocclusions_take_the_content():
    previous, content = _random_image(1), _random_image(2)
    init = warped_init(previous, _shift_flow(2, 1), content)
    assert init.dtype == np.float32 and init.shape == (H, W, 3)
    # Sources inside frame i−1 (x + 2 <= W − 1, y + 1 <= H − 1): the shifted previous result, exactly
    # (integer positions are exact for the cubic kernel, no blur, no overshoot).
    np.testing.assert_array_equal(init[: H - 1, : W - 2], previous[1:, 2:])
    # Sources outside frame i−1 (last row, last two columns): the content frame, exactly.
    np.testing.assert_array_equal(init[H - 1], content[H - 1])
    np.testing.assert_array_equal(init[:, W - 2 :], content[:, W - 2 :])
    # A negative shift leaves through the other borders.
    init = warped_init(previous, _shift_flow(-1, -2), content)
    np.testing.assert_array_equal(init[2:, 1:], previous[: H - 2, : W - 1])
    np.testing.assert_array_equal(init[:2], content[:2])
    np.testing.assert_array_equal(init[:, :1], content[:, :1])


def test_warped_init_never_leaves_zero_one():
    # A cubic kernel overshoots next to a hard edge at sub-pixel positions; the init stays in [0, 1].
    previous = np.zeros((H, W, 3), np.float32)
    previous[:, W // 2 :] = 1.0
    init = warped_init(previous, _shift_flow(0, 0) + np.float32(0.5), np.full((H, W, 3), 0.5, np.float32))
    assert init.min() >= 0.0 and init.max() <= 1.0


def _level(value: float) -> float:
    """``value`` as stored in an 8-bit reliability map (round(255 c) / 255)."""
    return round(value * 255) / 255


def _store(folder, reliability: dict, flows: dict):
    """A FlowStore folder with the given (1-based) reliability maps and backward flows."""
    from flow import io as flow_io
    from flow.store import FlowStore

    for (a, b), c in reliability.items():
        flow_io.write_reliability(folder / flow_io.reliable_name(a, b), c)
    for (a, b), f in flows.items():
        flow_io.write_flo(folder / flow_io.backward_name(a, b), f)
    return FlowStore(folder)


def test_temporal_targets_long_term_weights_are_ruders_c_long(tmp_path):
    # Frame index 4 (frame 5) with J = {1, 2, 4}: c_long_j = max(c_j − Σ_{k<j} c_k, 0), raw c's.
    # Four pixels per column block (values chosen on the 8-bit grid of the .pgm files):
    #   pixel:        A     B     C     D
    c1 = np.array([1.0, 0.0, 0.4, 0.2])
    c2 = np.array([1.0, 0.6, 0.6, 0.2])
    c4 = np.array([1.0, 1.0, 0.8, 0.2])
    # hand-computed c_long:
    want1 = [1.0, 0.0, 0.4, 0.2]
    want2 = [0.0, 0.6, 0.2, 0.0]  # c2 − c1
    want4 = [0.0, 0.4, 0.0, 0.0]  # c4 − c1 − c2; pixel C: 0.8 − 0.4 − 0.6 < 0 → 0 (Lua's in-place
    #                               variant would give 0.8 − 0.4 − 0.2 = 0.2 there)

    def as_map(values):
        return np.repeat(np.repeat(np.asarray(values, np.float64)[None, :], H, 0), W // 4, 1)

    zero = _shift_flow(0, 0)
    store = _store(tmp_path, {(5, 4): as_map(c1), (5, 3): as_map(c2), (5, 1): as_map(c4)},
                   {(5, 4): zero, (5, 3): zero, (5, 1): zero})
    stylized = {k: np.full((H, W, 3), 0.1 * (k + 1), np.float32) for k in range(5)}
    targets = temporal_targets(4, stylized.__getitem__, store, (4, 1, 2))  # any order
    assert len(targets) == 3
    for target, want, source in zip(targets, (want1, want2, want4), (3, 2, 0), strict=True):
        np.testing.assert_allclose(target.weights, as_map([_level(v) for v in want]), atol=1e-6)
        np.testing.assert_allclose(target.warped, stylized[source], atol=1e-6)  # zero flow: the frame itself
    # The weights of one pixel never sum above 1 (each pixel leans on its closest reliable frame).
    assert np.sum([t.weights for t in targets], axis=0).max() <= 1.0 + 1e-6


def test_temporal_targets_skip_offsets_before_the_clip_and_mask_pixels_leaving_the_frame(tmp_path):
    c1 = np.full((H, W), _level(0.8))
    c2 = np.full((H, W), _level(0.6))
    store = _store(tmp_path, {(2, 1): c1, (3, 2): c1, (3, 1): c2},
                   {(2, 1): _shift_flow(2, 0), (3, 2): _shift_flow(2, 0), (3, 1): _shift_flow(0, 1)})
    stylized = {k: _random_image(10 + k) for k in range(3)}
    # Frame index 1: only offset 1 exists; its weight is the plain reliability, 0 where x + 2 > W − 1.
    (only,) = temporal_targets(1, stylized.__getitem__, store, (1, 2, 4))
    np.testing.assert_allclose(only.weights[:, : W - 2], 0.8, atol=1e-6)
    np.testing.assert_array_equal(only.weights[:, W - 2 :], 0)
    np.testing.assert_array_equal(only.warped[:, : W - 2], stylized[0][:, 2:])
    # Frame index 2: offsets 1 and 2; c_long_2 = max(0.6 − 0.8, 0) = 0 everywhere.
    short, long2 = temporal_targets(2, stylized.__getitem__, store, (1, 2, 4))
    np.testing.assert_allclose(short.weights[:, : W - 2], 0.8, atol=1e-6)
    np.testing.assert_array_equal(long2.weights, 0)
    np.testing.assert_array_equal(long2.warped[: H - 1], stylized[0][1:])


def test_multipass_init_known_answer():
    current = np.full((H, W, 3), 0.2, np.float32)
    toward_image = np.full((H, W, 3), 0.8, np.float32)
    away_image = np.full((H, W, 3), 0.5, np.float32)
    toward = (toward_image, _shift_flow(0, 0), np.full((H, W), 0.5, np.float32))
    away = (away_image, _shift_flow(0, 0), np.ones((H, W), np.float32))

    # x' = (x + a_t c_t W(x_t) + a_a c_a W(x_a)) / (1 + a_t c_t + a_a c_a)
    both = multipass_init(current, toward, away, a_toward=1.0, a_away=0.5)
    np.testing.assert_allclose(both, (0.2 + 1.0 * 0.5 * 0.8 + 0.5 * 1.0 * 0.5) / (1 + 0.5 + 0.5), rtol=1e-6)
    # The reference weights (1, 0): the neighbour behind the pass direction does not count.
    ref = multipass_init(current, toward, away, a_toward=1.0, a_away=0.0)
    np.testing.assert_allclose(ref, (0.2 + 0.5 * 0.8) / 1.5, rtol=1e-6)
    # Clip ends: a missing neighbour (None) drops out of numerator and denominator.
    first = multipass_init(current, None, away, a_toward=1.0, a_away=0.5)
    np.testing.assert_allclose(first, (0.2 + 0.5 * 0.5) / 1.5, rtol=1e-6)
    last = multipass_init(current, toward, None, a_toward=1.0, a_away=0.5)
    np.testing.assert_allclose(last, (0.2 + 0.5 * 0.8) / 1.5, rtol=1e-6)
    alone = multipass_init(current, None, None, a_toward=1.0, a_away=1.0)
    np.testing.assert_array_equal(alone, current)
    assert both.dtype == np.float32


def test_multipass_init_warps_neighbours_and_ignores_pixels_leaving_the_frame():
    current = _random_image(3)
    toward_image, away_image = _random_image(4), _random_image(5)
    c_toward = np.random.default_rng(6).uniform(0, 1, (H, W)).astype(np.float32)
    toward = (toward_image, _shift_flow(1, 0), c_toward)  # frame to neighbour: 1 px right
    away = (away_image, _shift_flow(0, -1), np.ones((H, W), np.float32))  # 1 px up
    out = multipass_init(current, toward, away, a_toward=1.0, a_away=0.25)

    want = current.astype(np.float64).copy()
    num = want.copy()
    den = np.ones((H, W, 1))
    c_t = c_toward.astype(np.float64).copy()
    c_t[:, W - 1] = 0  # x + 1 leaves the frame
    w_t = np.zeros((H, W, 3))
    w_t[:, : W - 1] = toward_image[:, 1:]
    c_a = np.full((H, W), 0.25)
    c_a[0] = 0  # y − 1 leaves the frame
    w_a = np.zeros((H, W, 3))
    w_a[1:] = away_image[:-1]
    num += c_t[..., None] * w_t + c_a[..., None] * w_a
    den += c_t[..., None] + c_a[..., None]
    np.testing.assert_allclose(out, num / den, rtol=1e-5, atol=1e-6)
    # Top-right corner: both neighbours leave the frame there → the current result unchanged.
    np.testing.assert_allclose(out[0, W - 1], current[0, W - 1], rtol=1e-6)
