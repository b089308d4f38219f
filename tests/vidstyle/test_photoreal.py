"""Photorealistic transfer: masked Grams, segmented style, matting term, region mode, video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from flow.synthetic import Motion, render_clip
from segmentation import write_mask
from vidstyle import losses
from vidstyle.config import Config, LossSettings, OptimizerSettings, PhotorealSettings, build_config, load_preset
from vidstyle.errors import OptionError
from vidstyle.images import resize_long_side
from vidstyle.matting import laplacian_energy, matting_laplacian
from vidstyle.photoreal import PhotorealStylizer, blend_region, recolor_by_label, stylize_photoreal_image
from vidstyle.regions import FrameMasks, MaskOptions, feather_region
from vidstyle.video import VideoJob, render_video

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "photoreal"


def _config(iterations=12, **photoreal):
    return Config(size=64, optimizer=OptimizerSettings(iterations=iterations, tolerance=0),
                  photoreal=PhotorealSettings(**photoreal))


def _photo(name, side=56):
    return resize_long_side(getattr(skimage.data, name)().astype(np.float32) / 255.0, side)


def test_masks_through_net_match_features_and_masked_gram(style64):
    stylizer = PhotorealStylizer([style64], _config())
    layers = stylizer.loss.style_layers
    feats = stylizer.net(tf.constant(style64[None]), layers)
    half = np.zeros((2, *style64.shape[:2]), np.float32)
    half[0, :, : style64.shape[1] // 2] = 1
    half[1] = 1 - half[0]
    through = stylizer.net.masks_through(half, layers)
    for name in layers:
        assert through[name].shape == (2, *feats[name].shape[1:3])
        assert through[name].min() >= 0 and through[name].max() <= 1 + 1e-5
        grams, _ = losses.masked_grams(feats[name], tf.constant(through[name]))
        single = losses.masked_gram_matrix(feats[name], tf.constant(through[name][0][None, ..., None]))
        np.testing.assert_allclose(grams[0].numpy(), single[0].numpy(), rtol=1e-4, atol=1e-6)
    # One all-ones mask: the segmented loss is the plain style loss.
    ones = {k: tf.ones((1, *feats[k].shape[1:3])) for k in layers}
    targets = {k: losses.gram_matrix(feats[k]) * 0.5 for k in layers}
    plain = losses.style_loss({k: losses.gram_matrix(feats[k]) for k in layers}, targets, stylizer.layer_weights)
    channels = {k: float(feats[k].shape[-1]) for k in layers}
    seg = losses.segmented_style_loss(feats, ones, {k: (targets[k] / channels[k]) for k in layers},
                                      stylizer.layer_weights)
    np.testing.assert_allclose(seg.numpy(), plain.numpy(), rtol=1e-4)


def test_label_missing_on_one_side_gives_finite_loss(content64, style64):
    style_labels = np.zeros(style64.shape[:2], np.int32)
    style_labels[:, :20] = 4  # red only in the style
    content_labels = np.zeros(content64.shape[:2], np.int32)
    content_labels[30:] = 1  # green only in the content → whole-style fallback
    stylizer = PhotorealStylizer([style64], _config(enabled=True), style_labels=style_labels)
    stylizer.set_frame(FrameMasks(labels=content_labels))
    loss, terms, grad = stylizer.loss_function(content64)(content64)
    assert np.isfinite(loss) and all(np.isfinite(v) for v in terms.values())
    assert np.all(np.isfinite(grad)) and terms["style"] > 0
    with pytest.raises(OptionError):
        PhotorealStylizer([style64, style64], _config(), style_labels=style_labels)


def test_matting_term_keeps_result_affine_while_colours_move():
    content = _photo("astronaut")
    # A "sunset" photo of a similar scene: mirrored and warm-tinted.
    style = np.clip(_photo("coffee") * np.array([1.3, 0.75, 0.45], np.float32), 0, 1)
    laplacian = matting_laplacian(content)
    off = stylize_photoreal_image(content, [style], _config(iterations=20, enabled=False))
    on = stylize_photoreal_image(content, [style], _config(iterations=20, enabled=True))
    e_off, e_on = laplacian_energy(laplacian, off.image), laplacian_energy(laplacian, on.image)
    assert e_on < 0.2 * e_off
    assert on.terms["matting"] > 0 and "matting" not in off.terms  # off: the plain Stylizer
    # The style term still falls a lot with the matting term on (colours/textures move toward
    # the style); 20 iterations at 56 px are too few for the mean colour itself to follow.
    at_init = PhotorealStylizer([style], _config(enabled=True)).loss_function(content)(content)[1]["style"]
    assert on.terms["style"] < 0.7 * at_init


def _graph_ops(stylizer: PhotorealStylizer, content: np.ndarray, constants: dict) -> list[tuple[str, str]]:
    """(op type, name) of every node of the traced loss step, nested functions included."""
    graph = stylizer._step.get_concrete_function(tf.constant(content), constants).graph.as_graph_def()
    nodes = [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
    return [(n.op, n.name) for n in nodes]


def test_objective_graph_has_no_sparse_ops(content64, style64):
    # TensorFlow has no deterministic GPU kernel for sparse products; op determinism is always on.
    stylizer = PhotorealStylizer([style64], _config(enabled=True))
    ops = _graph_ops(stylizer, content64, stylizer.term_constants(content64))
    assert any("matting" in name for _, name in ops)  # the term is there ...
    assert not [op for op, _ in ops if op.startswith("Sparse")]  # ... without any sparse op
    assert stylizer.laplacian_builds == 1


@pytest.mark.parametrize("photoreal", [{}, {"enabled": True, "matting_weight": 0.0}])
def test_zero_matting_weight_builds_no_laplacian_and_traces_no_matting(content64, style64, photoreal):
    # Masks or a region without --photoreal, or λ = 0.
    stylizer = PhotorealStylizer([style64], _config(iterations=2, **photoreal))
    constants = stylizer.term_constants(content64)
    assert constants["matting"] is None
    assert not [name for _, name in _graph_ops(stylizer, content64, constants) if "matting" in name]
    assert stylizer.loss_function(content64)(content64)[1]["matting"] == 0
    runs = []
    minimize = stylizer._minimize
    stylizer._minimize = lambda constants, *args: runs.append(constants) or minimize(constants, *args)
    result = stylizer.optimize(content64, content64, iterations=2)
    assert result.terms["matting"] == 0 and result.iterations == 2
    assert len(runs) == 1  # Luan's two stages are one run when the matting term is off anyway
    assert stylizer.laplacian_builds == 0


def test_stage1_runs_without_matting_then_stage2_from_its_result(monkeypatch, content64, style64):
    stylizer = PhotorealStylizer([style64], _config(enabled=True, stage1_fraction=0.5))
    calls = []
    minimize = stylizer._minimize

    def recording(constants, init, iterations, callback, shape_hw, stop=None):
        builds = stylizer.laplacian_builds
        result = minimize(constants, init, iterations, callback, shape_hw, stop)
        calls.append((constants["matting"] is not None, iterations, builds, np.array(init), result.image.copy()))
        return result

    monkeypatch.setattr(stylizer, "_minimize", recording)
    steps = []
    result = stylizer.optimize(content64, content64, iterations=6, callback=steps.append)
    assert [(matting, n, builds) for matting, n, builds, _, _ in calls] == [(False, 3, 0), (True, 3, 1)]
    np.testing.assert_array_equal(calls[1][3], calls[0][4])  # stage 2 starts at stage 1's result
    assert [s.iteration for s in steps] == [1, 2, 3, 4, 5, 6] and all(s.iterations == 6 for s in steps)
    assert all(s.terms["matting"] == 0 for s in steps[:3])
    assert all(s.terms["matting"] > 0 for s in steps[3:])
    assert result.iterations == 6 and np.array_equal(result.image, calls[1][4])


def test_laplacian_built_once_per_frame_and_new_frame_reuses_traces(style64):
    content = _photo("chelsea", 96)  # 64×96: a 32×48 coarse level
    config = Config(size=96, optimizer=OptimizerSettings(iterations=2, tolerance=0, pyramid=2, frame_pyramid=2),
                    photoreal=PhotorealSettings(enabled=True))
    stylizer = PhotorealStylizer([style64], config)
    first = stylizer.stylize(content)  # coarse level and stage 1 without it, stage 2 builds it
    assert stylizer.laplacian_builds == 1
    stylizer.optimize(content, first.image, iterations=2)  # the same frame again (another pass)
    assert stylizer.laplacian_builds == 1
    traces = stylizer._solver._chunk.experimental_get_tracing_count()
    following = np.ascontiguousarray(content[:, ::-1])  # the next frame, same size
    stylizer.refine(following, first.image, iterations=2)  # its coarse level runs without the term
    assert stylizer.laplacian_builds == 2
    assert stylizer._solver._chunk.experimental_get_tracing_count() == traces


def test_recolor_by_label_matches_each_label_then_mixes_the_global_map():
    rng = np.random.default_rng(0)
    content = (0.4 + 0.1 * rng.standard_normal((40, 48, 3))).clip(0, 1).astype(np.float32)
    style = (0.5 + 0.05 * rng.standard_normal((36, 30, 3))).clip(0, 1).astype(np.float32)
    style[:18] *= np.array([1.4, 0.9, 0.5], np.float32)  # a warm "sky" on top
    c_slots = np.zeros((2, 40, 48), np.float32)
    c_slots[0, :10], c_slots[1, 10:] = 1, 1  # content sky is smaller than the style's
    s_slots = np.zeros((2, 36, 30), np.float32)
    s_slots[0, :18], s_slots[1, 18:] = 1, 1
    out = recolor_by_label(content, style, c_slots, s_slots, blur=0)
    for c, s in zip(c_slots, s_slots, strict=True):
        mine, theirs = out[c > 0].astype(np.float64), style[s > 0].astype(np.float64)
        np.testing.assert_allclose(mine.mean(0), theirs.mean(0), atol=2e-3)
        np.testing.assert_allclose(np.cov(mine, rowvar=False), np.cov(theirs, rowvar=False), atol=2e-4)
    # shared=1: one map for every pixel, the whole-image transfer (global mean and covariance).
    whole = recolor_by_label(content, style, c_slots, s_slots, blur=0, shared=1.0)
    np.testing.assert_allclose(whole.reshape(-1, 3).mean(0), style.reshape(-1, 3).mean(0), atol=2e-3)
    # Locally affine away from label edges: the top rows are one affine map of the content.
    x = np.c_[content[:8].reshape(-1, 3), np.ones(8 * 48)]
    fit = np.linalg.lstsq(x, out[:8].reshape(-1, 3), rcond=None)[1]
    assert fit.max() < 1e-8


def test_recolor_init_only_for_photoreal_content_init(content64, style64):
    stylizer = PhotorealStylizer([style64], _config(enabled=True))
    init = stylizer.initial_image(content64)
    np.testing.assert_allclose(init.reshape(-1, 3).mean(0), style64.reshape(-1, 3).mean(0), atol=0.02)
    assert np.array_equal(PhotorealStylizer([style64], _config(enabled=True, recolor_init=False))
                          .initial_image(content64), content64)
    assert np.array_equal(PhotorealStylizer([style64], _config(enabled=False)).initial_image(content64), content64)
    noise = stylizer.initial_image(content64, "random", seed=3)
    assert noise.std() > 0.25  # random init untouched


def test_feather_and_blend_keep_outside_exact():
    region = np.zeros((20, 30), bool)
    region[5:15, 8:25] = True
    m = feather_region(region, 3.0)
    assert np.all(m[~region] == 0) and m.max() == 1 and 0 < m[5, 15] < 1
    a, b = np.full((20, 30, 3), 0.9, np.float32), np.random.default_rng(0).uniform(0, 1, (20, 30, 3)).astype(np.float32)
    out = blend_region(a, b, m)
    assert np.array_equal(out[~region], b[~region]) and np.allclose(out[m == 1], 0.9)


def test_region_mode_leaves_unmasked_pixels_untouched(tmp_path, content64, style64):
    region = np.zeros(content64.shape[:2], np.uint8)
    region[10:40, 15:50] = 255
    cv2.imwrite(str(tmp_path / "region.png"), region)
    masks = MaskOptions(region=str(tmp_path / "region.png"))
    result = stylize_photoreal_image(content64, [style64], _config(iterations=8), masks)
    outside = region == 0
    assert np.array_equal(result.image[outside], content64[outside])
    assert np.abs(result.image[~outside] - content64[~outside]).mean() > 0.01


def test_presets_carry_photoreal_section():
    config = build_config({**load_preset("fast"), "photoreal": {"enabled": True, "matting_weight": 5.0}})
    assert config.photoreal.enabled and config.photoreal.matting_weight == 5.0
    assert "photoreal" in config.to_dict()
    with pytest.raises(OptionError):
        PhotorealSettings(stage1_fraction=1.0)
    with pytest.raises(OptionError):
        MaskOptions(content_masks="masks/")  # no --style-mask


def _clip(folder: Path) -> Path:
    photo = skimage.data.astronaut()
    clip = render_clip(photo, (48, 40), Motion(dx=1.5, dy=0.5, occluder_size=0.0), 3)
    folder.mkdir()
    for k, frame in enumerate(clip.frames):
        cv2.imwrite(str(folder / f"f{k + 1}.png"), np.asarray(frame)[..., ::-1])
    return folder


def test_photoreal_video_runs_propagates_masks_and_resumes(tmp_path):
    frames = _clip(tmp_path / "clip")
    style = tmp_path / "style.png"
    cv2.imwrite(str(style), (_photo("coffee", 48)[..., ::-1] * 255).astype(np.uint8))
    config = Config(size=48, loss=LossSettings(), optimizer=OptimizerSettings(iterations=4, tolerance=0),
                    photoreal=PhotorealSettings(enabled=True))
    job = VideoJob(source=frames, styles=(style,), output=tmp_path / "out", encode=False,
                   cache_dir=tmp_path / "cache", jobs=1, masks=MaskOptions(auto_k=2))
    first = render_video(job, config)
    assert len(first.frames) == 3 and len(list((tmp_path / "out" / "labels" / "labels").glob("*.png"))) == 3
    before = first.frames[2].read_bytes()
    first.frames[2].unlink()
    again = render_video(job, config)
    assert again.resumed_frames == 2 and again.frames[2].read_bytes() == before


def test_shared_pair_with_dpst_masks():
    if not (SHARED / "in1.png").is_file():
        pytest.skip("../shared/data/photoreal not present")
    from segmentation import read_mask
    from vidstyle.images import load_image

    content, style = load_image(SHARED / "in1.png", max_side=48), load_image(SHARED / "tar1.png", max_side=48)
    tmp_labels = read_mask(SHARED / "seg_in1.png", size=content.shape[:2])
    assert tmp_labels.shape == content.shape[:2]
    masks = MaskOptions(content_masks=str(SHARED / "seg_in1.png"), style_mask=str(SHARED / "seg_tar1.png"))
    result = stylize_photoreal_image(content, [style], _config(iterations=6, enabled=True), masks)
    assert np.all(np.isfinite(result.image)) and result.image.shape == content.shape


def test_written_masks_round_trip(tmp_path):
    labels = np.zeros((10, 12), np.int32)
    labels[:, 6:] = 3
    write_mask(tmp_path / "m.png", labels)
    from segmentation import read_mask

    assert np.array_equal(read_mask(tmp_path / "m.png"), labels)


def test_photoreal_is_the_stylizer_with_other_terms_and_stages(style64):
    from vidstyle.stylize import Stylizer
    from vidstyle.terms import SegmentedStyleTerm

    # Luan's method comes as terms and a stage plan; only the start image and the finish differ.
    overridden = {name for name in vars(PhotorealStylizer) if name in vars(Stylizer) and callable(vars(Stylizer)[name])}
    assert overridden == {"__init__", "initial_image", "finish"}
    config = _config(enabled=True, stage1_fraction=0.25)
    stylizer = PhotorealStylizer([style64], config)
    assert [t.name for t in stylizer.terms] == ["content", "style", "tv", "temporal", "matting"]
    style = stylizer.term("style")
    assert isinstance(style, SegmentedStyleTerm)
    assert style.weight == config.loss.style_weight * config.photoreal.style_weight_scale
    assert stylizer.term("matting").weight == config.photoreal.matting_weight and not stylizer.term("matting").coarse
    assert [(s.share, set(s.off)) for s in stylizer.stages] == [(0.25, {"matting"}), (1.0, set())]
    off = PhotorealStylizer([style64], _config())  # masks only: plain style weight, λ = 0
    assert off.term("style").weight == config.loss.style_weight and off.term("matting").weight == 0
