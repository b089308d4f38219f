"""Tests for vidstyle.frames: one lazy frame reader for folders and video files."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest

from vidstyle.encode import ffmpeg_exe
from vidstyle.errors import InputError, OptionError
from vidstyle.frames import (
    DEFAULT_FPS,
    FrameSelection,
    extract_frames,
    list_frame_files,
    natural_key,
    open_frames,
)

# Solid colours, one per frame, far apart so lossy H.264 cannot confuse them (RGB).
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 255, 255)]


def _write_folder(folder, colours=COLOURS, size_hw=(48, 64), names=None):
    folder.mkdir(exist_ok=True)
    names = names or [f"f{i + 1}.png" for i in range(len(colours))]
    for name, rgb in zip(names, colours, strict=True):
        frame = np.zeros((*size_hw, 3), np.uint8)
        frame[:] = rgb[::-1]  # BGR for OpenCV
        cv2.imwrite(str(folder / name), frame)
    return folder


@pytest.fixture(scope="module")
def colour_clip(tmp_path_factory):
    """A 64x48, 10 fps H.264 clip made by ffmpeg itself: one solid colour per frame."""
    path = tmp_path_factory.mktemp("clip") / "colours.mp4"
    frames = np.zeros((len(COLOURS), 48, 64, 3), np.uint8)
    frames[:] = np.array(COLOURS, np.uint8)[:, None, None, :]
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x48", "-framerate", "10", "-i", "-",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "10", str(path)]  # fmt: skip
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    return path


def test_natural_sort():
    names = ["frame10.png", "frame2.png", "Frame1.png", "frame_b.png", "frame_a.png"]
    assert sorted(names, key=natural_key) == [
        "Frame1.png", "frame2.png", "frame10.png", "frame_a.png", "frame_b.png",
    ]  # fmt: skip


def test_folder_reads_in_natural_order(tmp_path):
    folder = _write_folder(tmp_path / "f", names=["f1.png", "f2.png", "f3.png", "f10.png", "f20.jpg"])
    (folder / "notes.txt").write_text("ignored")
    (folder / ".hidden.png").write_bytes(b"")
    assert [p.name for p in list_frame_files(folder)] == ["f1.png", "f2.png", "f3.png", "f10.png", "f20.jpg"]
    source = open_frames(folder)
    assert len(source) == 5 and source.info.fps == DEFAULT_FPS and not source.info.has_audio
    assert source.info.size == (64, 48)
    frames = list(source)
    assert all(f.shape == (48, 64, 3) and f.dtype == np.float32 for f in frames)
    np.testing.assert_allclose(frames[3][0, 0], [1, 1, 0], atol=1e-6)  # f10 is the 4th
    assert open_frames(folder, fps=12).info.fps == 12


def test_folder_selection_and_resize(tmp_path):
    folder = _write_folder(tmp_path / "f")
    source = open_frames(folder, selection=FrameSelection(start=1, end=5, every=2), long_side=32)
    assert len(source) == 2 and list(source.indices) == [1, 3]
    assert source.frame_size == (32, 24) and source.fps == DEFAULT_FPS / 2
    frames = list(source)
    assert frames[0].shape == (24, 32, 3)
    np.testing.assert_allclose(frames[0][5, 5], [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(frames[1][5, 5], [1, 1, 0], atol=1e-6)


def test_folder_converts_gray_and_16bit(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    cv2.imwrite(str(folder / "a1.png"), np.full((20, 20), 128, np.uint8))
    cv2.imwrite(str(folder / "a2.png"), np.full((20, 20, 3), 65535, np.uint16))
    gray, white = list(open_frames(folder))
    np.testing.assert_allclose(gray[0, 0], [128 / 255] * 3, atol=1e-6)
    np.testing.assert_allclose(white, 1.0)


def test_folder_without_frames(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(InputError, match="no frames"):
        open_frames(tmp_path)


def test_folder_mixed_sizes_names_odd_file(tmp_path):
    folder = _write_folder(tmp_path / "f", colours=COLOURS[:3])
    _write_folder(folder, colours=COLOURS[:1], size_hw=(40, 64), names=["f2.png"])
    with pytest.raises(InputError, match=r"'f2.png' is 64x40 px but 'f1.png' is 64x48"):
        open_frames(folder)


def test_folder_corrupt_frame_detected_up_front(tmp_path):
    folder = _write_folder(tmp_path / "f", colours=COLOURS[:2])
    (folder / "f3.png").write_bytes(b"\x00" * 23)
    with pytest.raises(InputError, match=r"f3\.png"):
        open_frames(folder)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"start": -1}, ">= 0"), ({"every": 0}, ">= 1"), ({"start": 3, "end": 3}, "after start")],
)
def test_selection_validation(kwargs, match):
    with pytest.raises(OptionError, match=match):
        FrameSelection(**kwargs)


def test_selection_past_end(tmp_path):
    folder = _write_folder(tmp_path / "f")
    with pytest.raises(OptionError, match="past the end"):
        open_frames(folder, selection=FrameSelection(start=5))
    assert len(open_frames(folder, selection=FrameSelection(start=3, end=100))) == 2


def test_video_frames_colours_and_metadata(colour_clip):
    source = open_frames(colour_clip)
    assert source.is_video and len(source) == len(COLOURS)
    assert source.info.fps == pytest.approx(10) and source.info.size == (64, 48)
    assert not source.info.has_audio
    for frame, rgb in zip(source, COLOURS, strict=True):
        assert frame.shape == (48, 64, 3) and frame.dtype == np.float32
        np.testing.assert_allclose(frame[24, 32], np.array(rgb) / 255, atol=0.06)


def test_frames_at_decodes_only_the_positions_asked(colour_clip, tmp_path):
    """`--preview` reads a few key frames: (position, frame) in clip order, from a video and a folder."""
    for source in (open_frames(colour_clip), open_frames(_write_folder(tmp_path / "folder"))):
        picked = list(source.frames_at([4, 0, 2, 2]))
        assert [pos for pos, _ in picked] == [0, 2, 4]
        for (_, frame), rgb in zip(picked, [COLOURS[0], COLOURS[2], COLOURS[4]], strict=True):
            np.testing.assert_allclose(frame[24, 32], np.array(rgb) / 255, atol=0.06)
        assert list(source.frames_at([])) == []


def test_video_selection_resize_and_time_range(colour_clip):
    source = open_frames(colour_clip, selection=FrameSelection(start=1, end=4, every=2), long_side=32)
    frames = list(source)
    assert len(frames) == len(source) == 2 and frames[0].shape == (24, 32, 3)
    np.testing.assert_allclose(frames[0][12, 16], [0, 1, 0], atol=0.06)
    np.testing.assert_allclose(frames[1][12, 16], [1, 1, 0], atol=0.06)
    assert source.fps == pytest.approx(5)
    start, duration = source.time_range_s()
    assert start == pytest.approx(0.1) and duration == pytest.approx(0.4)
    # An fps override changes the output rate, not where the audio of the range lies.
    slowed = open_frames(colour_clip, selection=FrameSelection(start=1, end=4, every=2), fps=5)
    assert slowed.info.fps == 5 and slowed.time_range_s() == pytest.approx((0.1, 0.4))


@pytest.mark.parametrize("content", [b"", b"\x13" * 23])
def test_empty_or_corrupt_video(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match="no readable video frames"):
        open_frames(path)


def test_missing_source(tmp_path):
    with pytest.raises(InputError, match="not found"):
        open_frames(tmp_path / "clip.mp4")


def test_extract_frames_writes_and_resumes(colour_clip, tmp_path):
    source = open_frames(colour_clip, selection=FrameSelection(end=3), long_side=32)
    out = tmp_path / "frames"
    paths = extract_frames(source, out)
    assert [p.name for p in paths] == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert all(cv2.imread(str(p)).shape == (24, 32, 3) for p in paths)
    # Resume: a deleted frame is redone, intact ones are not rewritten.
    paths[1].unlink()
    before = paths[0].stat().st_mtime_ns
    assert extract_frames(source, out) == paths
    assert paths[1].is_file() and paths[0].stat().st_mtime_ns == before
    folder_source = open_frames(out)
    np.testing.assert_allclose(list(folder_source)[1][12, 16], [0, 1, 0], atol=0.06)
    # Other settings: stale frames are replaced, not reused.
    bigger = open_frames(colour_clip, selection=FrameSelection(end=3), long_side=48)
    extract_frames(bigger, out)
    assert cv2.imread(str(paths[0])).shape == (36, 48, 3)
