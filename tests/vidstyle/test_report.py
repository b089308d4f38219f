"""`vidstyle report`: the self-contained HTML page of a batch, built from shot folders
made here without TensorFlow (real frames, real flows, a hand-written log)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest
import skimage.data

from flow.store import compute_flows
from flow.synthetic import Motion, render_clip
from vidstyle.batch.report import (
    clip_error,
    render_report,
    sharpness_series,
    style_ratio_series,
    temporal_errors,
    write_report,
)
from vidstyle.cli import main
from vidstyle.workspace import Workspace

FRAMES = 3


def make_shot(root, name, *, stylized=True):
    """A finished shot folder: input frames of a real photo in known motion, 'stylized'
    frames (the input, tinted), flows and a log.jsonl as render_video writes them."""
    ws = Workspace(root / name)
    ws.input_dir.mkdir(parents=True)
    clip = render_clip(skimage.data.astronaut(), (48, 36), Motion(dx=1.5, dy=0.5), FRAMES)
    inputs = []
    for k, frame in enumerate(clip.frames):
        inputs.append(ws.frame_path(ws.input_dir, k))
        cv2.imwrite(str(inputs[-1]), np.ascontiguousarray(frame[..., ::-1]))
        if stylized:
            ws.frames_dir.mkdir(exist_ok=True)
            tinted = np.clip(frame.astype(np.int16) + np.array([40, -20, 10]), 0, 255).astype(np.uint8)
            cv2.imwrite(str(ws.frame_path(ws.frames_dir, k)), np.ascontiguousarray(tinted[..., ::-1]))
            ws.log({"frame": k + 1, "pass": 1, "iterations": 3, "loss": 100.0 / (k + 1), "seconds": 0.5 + k,
                    "terms": {"content": 10.0, "style": 80.0 / (k + 1), "tv": 0.1, "temporal": 2.0 * k}})
    compute_flows(inputs, ws.flow_dir, jobs=1)
    (ws.root / "settings.json").write_text("{}\n")
    return ws


@pytest.fixture
def batch_dir(tmp_path):
    pan = make_shot(tmp_path, "pan")
    (pan.root / "preview").mkdir()  # as `vidstyle video --preview` leaves it
    cv2.imwrite(str(pan.root / "preview" / "contact_sheet.png"), np.full((40, 60, 3), (30, 120, 200), np.uint8))
    make_shot(tmp_path, "broken", stylized=False)
    shots = [{"name": "pan", "output": "pan", "status": "done", "frames": FRAMES},
             {"name": "broken", "output": "broken", "status": "failed", "frames": FRAMES,
              "error": "cannot read 'x.png': file is empty or corrupt <re-export it>"}]
    (tmp_path / "batch.json").write_text(json.dumps({"job_file": "/somewhere/night.toml", "shots": shots}))
    return tmp_path


def test_temporal_error_follows_the_evaluation_formula(batch_dir):
    ws = Workspace(batch_dir / "pan")
    inputs = sorted(ws.input_dir.glob("*.png"))
    errors = temporal_errors(inputs, ws.flow_dir)
    assert errors.shape == (FRAMES - 1,) and np.all(np.isfinite(errors))
    assert 0 < clip_error(errors) < 0.1  # DIS on exact known motion: small residual
    assert clip_error(errors) == pytest.approx(np.sqrt(np.mean(errors**2)))
    same = temporal_errors([inputs[0]] * FRAMES, ws.flow_dir)  # a still frame warped by real motion differs
    assert np.all(same > errors)
    assert np.isnan(temporal_errors(inputs, batch_dir / "no-flow")).all()


def test_report_is_self_contained_with_sheets_plots_and_summary(batch_dir):
    path = write_report(batch_dir)
    page = path.read_text()
    assert path == batch_dir / "report.html"
    assert "night.toml" in page and 'class="summary"' in page and "<script" not in page.lower()
    assert 'id="shot-pan"' in page and 'id="shot-broken"' in page
    assert "file is empty or corrupt &lt;re-export it&gt;" in page  # escaped
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere
    images = page.split('src="data:image/png;base64,')[1:]
    # pan: contact sheet, preview sheet, plots, drift; broken: contact sheet (input only) + plots (input error)
    assert len(images) == 6
    assert re.findall(r'alt="([\w ]+?) of pan"', page) == ["contact sheet", "preview", "plots", "drift"]
    png = base64.b64decode(images[0].split('"')[0])
    sheet = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert sheet.shape[0] > 2 * 160 and sheet.std() > 10  # two rows of real pictures
    assert "3/3" in page and "0/3" in page


def test_drift_series_relative_to_frame_one(batch_dir):
    ws = Workspace(batch_dir / "pan")
    inputs = sorted(ws.input_dir.glob("*.png"))
    stylized = [ws.frame_path(ws.frames_dir, i) for i in range(FRAMES)]
    sharp = sharpness_series(inputs, stylized)
    assert sharp[0] == 1.0 and np.all(np.abs(sharp - 1) < 0.05)  # a tint keeps the detail of every frame
    blurred = batch_dir / "blurred.png"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(cv2.imread(str(stylized[2])), (7, 7), 3))
    assert sharpness_series(inputs, [*stylized[:2], blurred])[2] < 0.7
    assert np.isnan(sharpness_series(inputs, [batch_dir / "missing.png"] * FRAMES)).all()
    ratios = style_ratio_series(ws.read_log(), FRAMES)  # the log's style term is 80 / frame
    assert ratios == pytest.approx([1.0, 1 / 2, 1 / 3])
    assert np.isnan(style_ratio_series([], FRAMES)).all()


def test_report_cli_and_folder_without_shots(batch_dir, tmp_path_factory, capfd):
    main(["report", str(batch_dir)])
    assert "report.html" in capfd.readouterr().out
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(SystemExit) as info:
        main(["report", str(empty)])
    assert info.value.code == 2 and "holds no batch.json" in capfd.readouterr().err


def test_report_of_a_single_video_output_folder(tmp_path):
    ws = make_shot(tmp_path, "clip")
    assert 'id="shot-clip"' in render_report(ws.root)


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Appended to a copy of the page only (the report itself has no JavaScript): lists every
#: image with its decoded size once the page has loaded.
PROBE = """<script>window.addEventListener("load", () => {
  const probe = document.createElement("pre"); probe.id = "probe";
  probe.textContent = JSON.stringify([...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight]));
  document.body.appendChild(probe);
});</script>"""


def find_browser() -> str | None:
    """A Chromium on PATH, else Playwright's Chromium when Playwright and its browser are installed."""
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:  # a broken Playwright install counts as no browser
        return None
    return path if path and os.path.isfile(path) else None


BROWSER = find_browser()


def headless(*args: str, profile) -> subprocess.CompletedProcess:
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, check=True, timeout=120, capture_output=True, text=True)


@pytest.mark.skipif(BROWSER is None, reason="no Chromium: none of chromium, chromium-browser, google-chrome(-stable) "
                                            "on PATH and no Playwright Chromium (e.g. apt-get install chromium)")
def test_report_renders_in_a_headless_browser(batch_dir, tmp_path_factory):
    path = write_report(batch_dir)
    probe = batch_dir / "probe.html"
    probe.write_text(path.read_text().replace("</body>", PROBE + "</body>"))
    profile = tmp_path_factory.mktemp("chromium-profile")
    dom = headless("--virtual-time-budget=10000", "--dump-dom", probe.as_uri(), profile=profile).stdout
    assert 'id="shot-pan"' in dom and 'id="shot-broken"' in dom and 'class="summary"' in dom
    images = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    sizes = {alt: (w, h) for alt, w, h in images}
    for alt in ("contact sheet of pan", "preview of pan", "plots of pan", "drift of pan", "contact sheet of broken",
                "plots of broken"):
        assert min(sizes[alt]) > 0, f"{alt} did not load: {sizes}"  # the browser decoded it
    assert sizes["preview of pan"] == (60, 40)

    shot = batch_dir / "screen.png"
    headless("--window-size=1200,1600", f"--screenshot={shot}", path.as_uri(), profile=profile)
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (1600, 1200)
    assert image.std() > 20 and len(np.unique(image.reshape(-1, 3), axis=0)) > 1000  # text, tables and pictures
