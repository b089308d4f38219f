"""`vidstyle video --preview` and `vidstyle batch --preview`: key frames at a small size and a
contact sheet in OUTPUT/preview/, without touching a render in the same folder."""

from __future__ import annotations

import json
import math
import time

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from vidstyle.config import build_config, load_preset
from vidstyle.preview import (
    PREVIEW_MAX_ITERATIONS,
    SHEET_GAP,
    SHEET_LABEL,
    SHEET_MIN_TILE,
    contact_sheet,
    preview_config,
    preview_long_side,
    preview_positions,
)

WIDTH, HEIGHT, FRAMES = 48, 27, 8
TINY = ("--size", "48", "--iterations", "2")


@pytest.fixture
def clip(tmp_path):
    """A folder of 8 frames (48×27) of a real photo in known motion, and a style image."""
    folder = tmp_path / "clip"
    folder.mkdir()
    for k, frame in enumerate(render_clip(skimage.data.astronaut(), (WIDTH, HEIGHT), Motion(dx=1.5), FRAMES).frames):
        cv2.imwrite(str(folder / f"f{k + 1}.png"), np.ascontiguousarray(frame[..., ::-1]))
    style = tmp_path / "style.png"
    cv2.imwrite(str(style), cv2.resize(skimage.data.immunohistochemistry(), (48, 48))[..., ::-1])
    return folder, style


def test_preview_size_frames_and_budget():
    assert [preview_long_side(s) for s in (48, 256, 512, 768, 2000)] == [48, 96, 128, 192, 192]
    assert preview_positions(100, 6) == [0, 20, 40, 59, 79, 99]
    assert preview_positions(3, 6) == [0, 1, 2] and preview_positions(8, 1) == [0]
    quality = build_config(load_preset("quality"))
    small = preview_config(quality)
    assert small.size == 192 and small.optimizer.first_iterations == PREVIEW_MAX_ITERATIONS
    assert max(small.optimizer.pyramid_iterations) <= PREVIEW_MAX_ITERATIONS
    assert small.loss == quality.loss and small.style == quality.style  # the same look: weights, style scale


def test_contact_sheet_grid():
    frames = [np.full((27, 48, 3), k / 10, np.float32) for k in range(5)]
    sheet = contact_sheet(frames, frames[::-1], [f"frame {k}" for k in range(5)])
    factor = math.ceil(SHEET_MIN_TILE / 48)  # small tiles are enlarged by an integer factor
    w, h = 48 * factor, 27 * factor
    assert sheet.shape == (2 * (SHEET_LABEL + 2 * h + SHEET_GAP) + 3 * SHEET_GAP, 3 * w + 4 * SHEET_GAP, 3)
    label = sheet[SHEET_GAP:SHEET_GAP + SHEET_LABEL, SHEET_GAP:SHEET_GAP + w]
    assert (label < 128).any()  # the frame number is written
    with pytest.raises(ValueError):
        contact_sheet(frames, frames[:2], ["a"] * 5)


def test_video_preview_writes_a_contact_sheet_and_leaves_the_render_alone(clip, tmp_path, cli_ok):
    folder, style = clip
    out = tmp_path / "out"
    (out / "frames").mkdir(parents=True)
    render = {out / "settings.json": b'{"a render": 1}\n', out / "frames" / "frame_00001.png": b"not touched"}
    for path, data in render.items():
        path.write_bytes(data)
    before = {p: p.stat().st_mtime_ns for p in render}
    t0 = time.perf_counter()
    cli_ok("video", str(folder), str(style), "-o", str(out), "--preview", "--preview-frames", "3", *TINY)
    seconds = time.perf_counter() - t0

    preview = out / "preview"
    sheet = cv2.imread(str(preview / "contact_sheet.png"))
    factor = math.ceil(SHEET_MIN_TILE / WIDTH)
    w, h = WIDTH * factor, HEIGHT * factor
    assert sheet.shape == (SHEET_LABEL + 2 * h + SHEET_GAP + 2 * SHEET_GAP, 3 * w + 4 * SHEET_GAP, 3)
    assert sorted(p.name for p in preview.glob("frame_*.png")) == ["frame_00001.png", "frame_00005.png",
                                                                   "frame_00008.png"]  # first, middle, last
    manifest = json.loads((preview / "preview.json").read_text())
    assert manifest["frames"] == [1, 5, 8] and manifest["size"] == [WIDTH, HEIGHT] and manifest["iterations"] == 2
    # The render in the same folder: same files, same bytes, nothing added beside preview/.
    assert {p: p.stat().st_mtime_ns for p in render} == before
    assert all(p.read_bytes() == data for p, data in render.items())
    assert sorted(p.name for p in out.iterdir()) == ["frames", "preview", "settings.json"]
    assert seconds < 120


def test_photoreal_preview_with_automatic_masks(clip, tmp_path, cli_ok):
    folder, style = clip
    out = tmp_path / "out"
    cli_ok("video", str(folder), str(style), "-o", str(out), "--preview", "--preview-frames", "2", *TINY,
           "--photoreal", "--content-masks", "auto", "--auto-masks", "2")
    assert (out / "preview" / "contact_sheet.png").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["preview"]  # no labels/ written


def test_preview_refuses_an_input_inside_the_preview_folder(clip, tmp_path, cli_fails):
    folder, style = clip
    out = tmp_path / "out"
    (out / "preview").mkdir(parents=True)
    inside = out / "preview" / "style.png"
    inside.write_bytes(style.read_bytes())
    code, _, err = cli_fails("video", str(folder), str(inside), "-o", str(out), "--preview", *TINY)
    assert code == 2 and "lies in preview/" in err


def test_batch_preview_per_shot_and_report(clip, tmp_path, capfd):
    from vidstyle.cli import main

    folder, style = clip
    job = tmp_path / "shots.toml"
    job.write_text(f"""
output = "renders"
[defaults]
style = "{style}"
[defaults.overrides]
size = 48
[defaults.overrides.optimizer]
iterations = 2
[[shot]]
name = "a"
input = "{folder}"
[[shot]]
name = "b"
input = "{folder}"
start = 3
end = 6
""")
    main(["batch", str(job), "--preview", "--preview-frames", "2"])
    out = capfd.readouterr().out
    assert "shot a: wrote" in out and "shot b: wrote" in out
    for name, frames in (("a", [1, 8]), ("b", [1, 4])):
        manifest = json.loads((tmp_path / "renders" / name / "preview" / "preview.json").read_text())
        assert manifest["frames"] == frames
        assert not (tmp_path / "renders" / name / "settings.json").exists()
    page = (tmp_path / "renders" / "report.html").read_text()
    assert page.count('alt="preview of ') == 2 and "preview only" in page
