"""A studio's plates through `vidstyle video` and batch job files: names and numbers (also
through a resume), 16-bit and EXR round trips, alpha kept byte-exact, --output-size source."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from vidstyle.config import Config, LossSettings, NetSettings, OptimizerSettings
from vidstyle.exr import exr_backend, write_exr
from vidstyle.frames import frame_selection
from vidstyle.plates import PlateOptions, read_plate, srgb_to_linear
from vidstyle.video import VideoJob, render_video

needs_exr = pytest.mark.skipif(exr_backend() is None, reason="no EXR backend (pip install 'vidstyle[exr]')")
#: 64 x 48 crop of a real photo that pans 2 px per frame.
PHOTO = skimage.data.astronaut()[120:216, 140:268].astype(np.float64) / 255  # 96 x 128


def _plate(k: int, size=(64, 48)) -> np.ndarray:
    w, h = size
    crop = np.roll(PHOTO, 2 * k, axis=1)[:h * 2:2, :w * 2:2] if w <= 64 else np.roll(PHOTO, 2 * k, axis=1)[:h, :w]
    return np.ascontiguousarray(crop)


def _alpha(h: int, w: int) -> np.ndarray:
    a = np.ones((h, w))
    a[: h // 4] = 0.0  # fully transparent band
    a[h // 4: h // 4 + 4] = 0.5
    return a


def _write(path: Path, rgb: np.ndarray, *, depth=8, alpha: np.ndarray | None = None) -> None:
    image = rgb if alpha is None else np.concatenate([rgb, alpha[..., None]], axis=2)
    top, dtype = (65535, np.uint16) if depth == 16 else (255, np.uint8)
    pixels = np.rint(np.clip(image, 0, 1) * top).astype(dtype)
    code = cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(pixels, code))


@pytest.fixture(scope="module")
def style_file(tmp_path_factory, style64):
    path = tmp_path_factory.mktemp("style") / "style.png"
    cv2.imwrite(str(path), (style64[..., ::-1] * 255).astype(np.uint8))
    return path


def _config(size=64, iterations=3, **loss) -> Config:
    # float32: bfloat16 convolutions (auto on AMX CPUs) move even an optimal init a few 16-bit levels.
    return Config(size=size, optimizer=OptimizerSettings(iterations=iterations, first_iterations=iterations,
                                                         pyramid=1, large_side=None),
                  loss=LossSettings(**loss) if loss else LossSettings(),
                  net=NetSettings(precision="float32" if loss else "auto"))


#: A loss whose optimum is the content itself: the content init is not moved, so what comes out
#: is exactly what went in, up to the file formats.
IDENTITY = dict(style_weight=0.0, tv_weight=0.0, temporal_weight=0.0)


def _frames_of(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_numbered_sequence_keeps_names_and_numbers_through_a_resume(tmp_path, style_file, cli_ok):
    plates = tmp_path / "plates"
    for k in range(4):
        _write(plates / f"shot_a.{1001 + k}.png", _plate(k))
    before = {p.name: p.read_bytes() for p in plates.iterdir()}
    out = tmp_path / "out"
    args = ["video", str(plates / "shot_a.####.png"), str(style_file), "-o", str(out), "--size", "64",
            "--iterations", "3", "--pyramid", "1", "--start", "1002", "--end", "1004", "--codec", "none"]
    cli_ok(*args)
    assert _frames_of(out / "frames") == ["shot_a.1002.png", "shot_a.1003.png", "shot_a.1004.png"]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [(r["frame"], r["number"], r["file"]) for r in log] == [
        (1, 1002, "shot_a.1002.png"), (2, 1003, "shot_a.1003.png"), (3, 1004, "shot_a.1004.png")]
    first = {p.name: p.read_bytes() for p in (out / "frames").iterdir()}
    (out / "frames" / "shot_a.1004.png").unlink()  # resume: only the deleted frame is made again
    cli_ok(*args)
    assert {p.name: p.read_bytes() for p in (out / "frames").iterdir()} == first
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["number"] for r in log] == [1002, 1003, 1004, 1004]
    # The plates were never written, and the folder as SOURCE numbers its frames the same way.
    assert {p.name: p.read_bytes() for p in plates.iterdir()} == before
    assert frame_selection(plates, 1003, None).start == 2


def test_16_bit_plates_round_trip_exactly(tmp_path, style_file):
    plates = tmp_path / "plates16"
    for k in range(2):
        _write(plates / f"shot.{k + 1:04d}.png", _plate(k), depth=16)
    result = render_video(VideoJob(plates, (style_file,), tmp_path / "o", encode=False), _config(**IDENTITY))
    assert [p.name for p in result.frames] == ["shot.0001.png", "shot.0002.png"]
    first = cv2.imread(str(result.frames[0]), cv2.IMREAD_UNCHANGED)
    assert first.dtype == np.uint16
    assert np.array_equal(first, cv2.imread(str(plates / "shot.0001.png"), cv2.IMREAD_UNCHANGED))
    # A real stylization keeps the 16 bits too (more than 256 levels, low byte used).
    styled = render_video(VideoJob(plates, (style_file,), tmp_path / "s", encode=False), _config())
    for path in styled.frames:
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert pixels.dtype == np.uint16 and len(np.unique(pixels)) > 256 and (pixels % 257).any()


def test_rgba_plates_keep_alpha_byte_exact_and_the_source_size(tmp_path, style_file):
    plates = tmp_path / "rgba"
    w, h = 96, 64
    for k in range(2):
        _write(plates / f"fg.{k + 1}.png", _plate(k, (w, h)), alpha=_alpha(h, w))
    job = VideoJob(plates, (style_file,), tmp_path / "o", encode=False, plate=PlateOptions(output_size="source"))
    result = render_video(job, _config(size=48))
    assert (tmp_path / "o" / "stylized" / "frame_00001.png").is_file()  # working-size results
    for k, path in enumerate(result.frames):
        out = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        plate = cv2.imread(str(plates / f"fg.{k + 1}.png"), cv2.IMREAD_UNCHANGED)
        assert out.shape == (h, w, 4) and out.dtype == np.uint8
        assert out[..., 3].tobytes() == plate[..., 3].tobytes()
    # --no-alpha-mask is another setting (the style statistics change): refused without --overwrite.
    with pytest.raises(Exception, match="other settings"):
        render_video(dataclasses.replace(job, plate=PlateOptions(output_size="source", alpha_mask=False)),
                     _config(size=48))


@needs_exr
def test_exr_plates_round_trip_scene_linear_with_highlights(tmp_path, style_file):
    plates = tmp_path / "exr"
    h, w = 48, 64
    alpha = _alpha(h, w)[..., None]
    for k in range(2):
        linear = srgb_to_linear(_plate(k))
        linear[30:36, 30:40] = 6.0  # a highlight far above display white
        write_exr(plates / f"sh.{k + 1:04d}.exr", np.concatenate([linear * alpha, alpha], axis=2))
    result = render_video(VideoJob(plates / "sh.####.exr", (style_file,), tmp_path / "o"),
                          _config(**IDENTITY))
    assert [p.name for p in result.frames] == ["sh.0001.exr", "sh.0002.exr"]
    assert result.video is not None and result.video.name == "sh_stylized.mp4"
    out, plate = read_plate(result.frames[0]), read_plate(plates / "sh.0001.exr")
    assert out.dtype == np.float16 and np.array_equal(out[..., 3], plate[..., 3])
    diff = np.abs(out[..., :3].astype(np.float32) - plate[..., :3].astype(np.float32))
    assert diff.max() < 0.02 * max(1.0, float(plate[..., :3].max()))
    assert out[32, 35, :3].astype(np.float32).min() > 5.5  # the highlight survives


def test_video_source_keeps_its_names_and_gets_png16(tmp_path, style_file):
    from vidstyle.encode import encode_video

    frames = []
    for k in range(2):
        frames.append(tmp_path / f"src{k}.png")
        _write(frames[-1], _plate(k))
    movie = encode_video(frames, tmp_path / "clip.mp4", fps=10)
    result = render_video(VideoJob(movie, (style_file,), tmp_path / "o", encode=False,
                                   plate=PlateOptions(output_format="png16")), _config())
    assert [p.name for p in result.frames] == ["frame_00001.png", "frame_00002.png"]
    assert cv2.imread(str(result.frames[0]), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_job_file_keys_for_every_plate_option(tmp_path, style_file):
    from vidstyle.batch.jobfile import load_jobfile
    from vidstyle.batch.options import shot_options

    assert {"output_format", "output_size", "input_transfer", "alpha", "alpha_mask"} <= set(shot_options())
    plates = tmp_path / "plates"
    for k in range(3):
        _write(plates / f"shot_a.{1001 + k}.png", _plate(k))
    job = tmp_path / "job.toml"
    job.write_text(f'''
[[shot]]
input = "plates/shot_a.####.png"
style = "{style_file}"
start = 1002
output_format = "tiff16"
output_size = "source"
input_transfer = "srgb"
alpha = "premultiplied"
alpha_mask = false
''')
    shot = load_jobfile(job).shots[0]
    assert shot.name == "shot_a" and shot.frame_count == 2 and shot.selection.start == 1
    assert shot.plate == PlateOptions(output_format="tiff16", output_size="source", input_transfer="srgb",
                                      alpha="premultiplied", alpha_mask=False)
    assert shot.key() != dataclasses.replace(shot, plate=PlateOptions()).key()


def test_plate_mistakes_are_one_line_errors(tmp_path, style_file, cli_fails):
    plates = tmp_path / "plates"
    for k in range(2):
        _write(plates / f"shot_a.{1001 + k}.png", _plate(k))
    base = ["video", str(plates / "shot_a.####.png"), str(style_file), "--size", "64", "--codec", "none"]
    for extra, message in ((["-o", str(tmp_path / "o"), "--start", "1"], "--start 1 is before"),
                           (["-o", str(tmp_path / "o"), "--end", "2000", "--start", "1003"], "after the last frame"),
                           (["-o", str(plates)], "is the input folder")):
        code, _, err = cli_fails(*base, *extra)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and message in lines[-1] and "Traceback" not in err, err
    code, _, err = cli_fails("video", str(tmp_path / "shot_b.####.png"), str(style_file), "-o", str(tmp_path / "x"))
    assert code == 2 and "no frames match" in err


def test_batch_shot_of_plates_keeps_names_and_alpha_and_is_skipped_when_done(tmp_path, style_file):
    from vidstyle.batch import load_jobfile, run_batch

    plates = tmp_path / "plates"
    for k in range(3):
        _write(plates / f"shot_a.{1001 + k}.png", _plate(k), depth=16, alpha=_alpha(48, 64))
    job = tmp_path / "job.toml"
    job.write_text(f'''
output = "renders"
[defaults]
style = "{style_file}"
[defaults.overrides]
size = 64
[defaults.overrides.optimizer]
iterations = 2
pyramid = 1
[[shot]]
input = "plates/shot_a.####.png"
start = 1002
encode = false
''')
    result = run_batch(load_jobfile(job), workers=1, flow_chunk=1)
    assert [s.status for s in result.shots] == ["done"]
    frames = tmp_path / "renders" / "shot_a" / "frames"
    assert _frames_of(frames) == ["shot_a.1002.png", "shot_a.1003.png"]
    for name in ("shot_a.1002.png", "shot_a.1003.png"):
        out = cv2.imread(str(frames / name), cv2.IMREAD_UNCHANGED)
        plate = cv2.imread(str(plates / name), cv2.IMREAD_UNCHANGED)
        assert out.dtype == np.uint16 and out[..., 3].tobytes() == plate[..., 3].tobytes()
    assert "1002, 1003" in result.report.read_text()  # the contact sheet's columns, by plate number
    again = run_batch(load_jobfile(job), workers=1, report=False)
    assert [s.status for s in again.shots] == ["skipped"]


def test_preview_of_plates_uses_their_names(tmp_path, style_file):
    from vidstyle.preview import render_preview

    plates = tmp_path / "plates"
    for k in range(3):
        _write(plates / f"shot_a.{1001 + k}.png", _plate(k))
    job = VideoJob(plates, (style_file,), tmp_path / "o", selection=frame_selection(plates, 1001, 1003))
    result = render_preview(job, _config(), frames=2)
    assert [p.name for p in result.files] == ["shot_a.1001.png", "shot_a.1003.png"]
    manifest = json.loads((result.folder / "preview.json").read_text())
    assert manifest["source_frames"] == [1001, 1003]
    again = render_preview(job, _config(), frames=1)  # the earlier preview's frames are cleared
    assert _frames_of(again.folder) == ["contact_sheet.png", "input_shot_a.1001.png", "preview.json",
                                        "shot_a.1001.png"]


def test_premultiplied_tiff_plates_round_trip_with_their_alpha_tag(tmp_path, style_file):
    import tifffile

    plates = tmp_path / "tif"
    plates.mkdir()
    alpha = _alpha(48, 64)[..., None]
    for k in range(2):
        premult = np.concatenate([_plate(k) * alpha, alpha], axis=2)
        tifffile.imwrite(plates / f"fg.{k + 1:04d}.tif", np.rint(premult * 65535).astype(np.uint16),
                         photometric="rgb", extrasamples=["assocalpha"])
    tiff = render_video(VideoJob(plates, (style_file,), tmp_path / "t", encode=False), _config(**IDENTITY))
    assert [p.name for p in tiff.frames] == ["fg.0001.tif", "fg.0002.tif"]  # auto: a 16-bit TIFF plate → tiff16
    with tifffile.TiffFile(tiff.frames[0]) as handle:
        assert [int(v) for v in handle.pages[0].extrasamples] == [1]  # associated alpha, like the plate
        out = handle.asarray()
    plate = tifffile.imread(plates / "fg.0001.tif")
    assert np.array_equal(out[..., 3], plate[..., 3])
    assert np.abs(out[..., :3].astype(int) - plate[..., :3].astype(int)).max() <= 2
