"""``--codec h264|prores|dnxhr|none``: real files encoded and decoded by the bundled ffmpeg
(stream codec, pixel format, BT.709 tags, frame count, size, rate, audio), odd sizes,
16-bit frames, the command line and job files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidstyle.batch.engine import shot_job
from vidstyle.batch.jobfile import JobFileError, load_jobfile
from vidstyle.encode import encode_video, ffmpeg_exe, probe_video
from vidstyle.errors import OptionError
from vidstyle.video import video_file_name

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (128, 64, 32)]
FPS = 10
#: What ``ffmpeg -i`` prints for each codec's video and audio stream.
EXPECTED = {
    "h264": ("h264", "yuv420p", "aac"),
    "prores": ("prores (HQ)", "yuv422p10le", "pcm_s24le"),
    "dnxhr": ("dnxhd (DNXHR HQX)", "yuv422p10le", "pcm_s24le"),
}
_STREAM = re.compile(r"Stream #0:\d+.*?: (Video|Audio): (.*)")


def streams(path: Path) -> dict[str, str]:
    """``{"Video": description, "Audio": description}`` of a file, as ``ffmpeg -i`` lists them."""
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return {kind: desc for kind, desc in _STREAM.findall(text)}


def decode(path: Path, pix_fmt: str = "rgb24") -> np.ndarray:
    """Every frame of a video as ``(N, H, W, 3)`` uint8 (rgb24) or uint16 (rgb48le)."""
    size = probe_video(path).size
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
                         capture_output=True, check=True).stdout
    dtype = np.uint16 if pix_fmt == "rgb48le" else np.uint8
    return np.frombuffer(raw, dtype).reshape(-1, size[1], size[0], 3)


def solid_frames(folder: Path, size: tuple[int, int]) -> list[Path]:
    """Five solid-colour PNG frames of ``size`` (width, height)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, rgb in enumerate(COLOURS):
        paths.append(folder / f"frame_{k + 1:05d}.png")
        cv2.imwrite(str(paths[-1]), np.full((size[1], size[0], 3), rgb[::-1], np.uint8))
    return paths


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    """1 s of a 440 Hz AAC tone."""
    path = tmp_path_factory.mktemp("tone") / "tone.m4a"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:a", "aac", str(path)], check=True)
    return path


@pytest.mark.parametrize(("codec", "size", "video_size"), [
    ("h264", (48, 32), (48, 32)),
    ("prores", (48, 32), (48, 32)),
    ("prores", (47, 33), (48, 34)),  # odd: padded by a repeated edge column/row
    ("dnxhr", (256, 120), (256, 120)),  # ffmpeg's DNxHR minimum
    ("dnxhr", (257, 121), (258, 122)),
])
def test_codec_decodes_with_the_bundled_ffmpeg(tmp_path, tone, codec, size, video_size, caplog):
    frames = solid_frames(tmp_path / "frames", size)
    ext = ".mp4" if codec == "h264" else ".mov"
    out = encode_video(frames, tmp_path / f"clip{ext}", fps=FPS, codec=codec, audio_from=tone)
    video, audio = streams(out)["Video"], streams(out).get("Audio", "")
    name, pix_fmt, audio_codec = EXPECTED[codec]
    assert video.startswith(name + " ") and pix_fmt in video and f"{video_size[0]}x{video_size[1]}" in video
    assert audio.startswith(audio_codec)
    if codec != "h264":  # converted with and tagged as BT.709 (primaries, transfer, matrix)
        assert f"{pix_fmt}(tv, bt709" in video
    info = probe_video(out)
    assert (info.frame_count, info.size, info.fps, info.has_audio) == (5, video_size, pytest.approx(FPS), True)
    padded = video_size != size
    assert padded == any("needs even sizes" in r.getMessage() for r in caplog.records)  # and says so
    decoded = decode(out)
    for frame, rgb in zip(decoded, COLOURS, strict=True):
        np.testing.assert_allclose(frame[size[1] // 2, size[0] // 2], rgb, atol=3 if codec != "h264" else 8)
        np.testing.assert_allclose(frame[-1, -1], rgb, atol=3 if codec != "h264" else 12)  # edge, not black


def test_sixteen_bit_frames_keep_more_than_eight_bits_in_prores(tmp_path):
    # A grey ramp 12 8-bit levels wide: 8-bit quantization alone is off by ~64 (of 65535) on average.
    ramp = (30000 + np.arange(64) * 50).astype(np.uint16)
    frame = np.repeat(np.repeat(ramp[None, :, None], 32, 0), 3, 2)
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"f{k}.png")
        cv2.imwrite(str(paths[-1]), frame)
    out = encode_video(paths, tmp_path / "ramp.mov", fps=FPS, codec="prores")
    decoded = decode(out, "rgb48le").astype(np.float64)
    eight_bit = np.rint(np.rint(frame / 257.0) * 257.0)
    error_16 = np.abs(decoded[1, 8:-8, 8:-8] - frame[8:-8, 8:-8]).mean()
    error_8 = np.abs(eight_bit - frame)[8:-8, 8:-8].mean()
    assert error_16 < 0.5 * error_8, (error_16, error_8)


def test_codec_problems_are_refused_before_ffmpeg_runs(tmp_path):
    frames = solid_frames(tmp_path / "frames", (48, 32))
    with pytest.raises(OptionError, match="at least 256x120 px, these are 48x32: raise --size"):
        encode_video(frames, tmp_path / "small.mov", fps=FPS, codec="dnxhr")
    with pytest.raises(OptionError, match=r"ProRes 422 HQ goes into \.mov files; name the video c\.mov"):
        encode_video(frames, tmp_path / "c.mp4", fps=FPS, codec="prores")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


# ---- command line --------------------------------------------------------------------------------
TINY = ["--size", "48", "--iterations", "2", "--first-iterations", "2", "--pyramid", "1"]


@pytest.fixture
def movie(tmp_path, tone) -> Path:
    """A 5-frame 48x32 clip at 10 fps with the tone (real H.264 + AAC)."""
    frames = solid_frames(tmp_path / "src", (48, 32))
    for k, path in enumerate(frames):  # some texture for the flow and the style
        image = cv2.imread(str(path))
        cv2.circle(image, (12 + 4 * k, 16), 6, (20, 200, 90), -1)
        cv2.imwrite(str(path), image)
    return encode_video(frames, tmp_path / "clip.mp4", fps=FPS, audio_from=tone)


def test_video_command_codecs_and_resume(tmp_path, movie, files, cli_ok, cli_fails):
    _, style = files
    out = tmp_path / "out"
    cli_ok("video", str(movie), str(style), "-o", str(out), *TINY, "--codec", "prores")
    assert streams(out / "clip_stylized.mov")["Video"].startswith("prores (HQ)")
    info = probe_video(out / "clip_stylized.mov")
    assert (info.frame_count, info.size, info.fps, info.has_audio) == (5, (48, 32), pytest.approx(FPS), True)
    frames = {p.name: p.read_bytes() for p in (out / "frames").iterdir()}

    # The codec is not a setting of the frames: another one resumes them all and only encodes.
    cli_ok("video", str(movie), str(style), "-o", str(out), *TINY, "--codec", "none")
    cli_ok("video", str(movie), str(style), "-o", str(out), *TINY)  # h264, the default
    assert streams(out / "clip_stylized.mp4")["Video"].startswith("h264 ")
    assert {p.name: p.read_bytes() for p in (out / "frames").iterdir()} == frames
    assert len((out / "log.jsonl").read_text().splitlines()) == 5  # no frame redone

    code, _, err = cli_fails("video", str(movie), str(style), "-o", str(tmp_path / "o2"), *TINY, "--codec", "dnxhr")
    assert code == 2 and "DNxHR HQX needs frames of at least 256x120 px, these are 48x32" in err
    assert not (tmp_path / "o2").exists()  # refused before any work
    code, _, err = cli_fails("video", str(movie), str(style), "-o", str(out), "--no-video", "--codec", "prores")
    assert code == 2 and "--no-video writes no video, --codec prores asks for one" in err
    code, _, err = cli_fails("video", str(movie), str(style), "-o", str(out), "--codec", "dnxhr", "--crf", "20")
    assert code == 2 and "--crf sets the H.264 quality" in err


# ---- job files -----------------------------------------------------------------------------------
def test_job_file_codec_key(tmp_path, movie, files):
    _, style = files
    (tmp_path / "jobs.toml").write_text(f"""
[defaults]
style = "{style}"
size = 48
[[shot]]
name = "h"
input = "clip.mp4"
[[shot]]
name = "p"
input = "clip.mp4"
codec = "prores"
[[shot]]
name = "n"
input = "clip.mp4"
codec = "none"
[[shot]]
name = "e"
input = "clip.mp4"
encode = false
""")
    h, p, n, e = load_jobfile(tmp_path / "jobs.toml").shots
    assert (h.codec, h.encode, p.codec, p.encode, n.encode) == ("h264", True, "prores", True, False)
    assert n.key() == e.key() and len({h.key(), p.key(), n.key()}) == 3  # a new codec re-encodes
    assert video_file_name(shot_job(p)) == "clip_stylized.mov" and video_file_name(shot_job(h)) == "clip_stylized.mp4"

    (tmp_path / "bad.toml").write_text(f"""
[[shot]]
input = "clip.mp4"
style = "{style}"
size = 48
codec = "dnxhr"
[[shot]]
name = "x"
input = "clip.mp4"
style = "{style}"
codec = "mpeg2"
""")
    with pytest.raises(JobFileError) as problems:
        load_jobfile(tmp_path / "bad.toml")
    assert any("at least 256x120 px, these are 48x32: raise size, or use codec prores" in p
               for p in problems.value.problems), problems.value.problems
    assert any("codec" in p and "mpeg2" in p for p in problems.value.problems), problems.value.problems
