"""Fixtures for the flow tests: tiny known-motion clips made from real photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, SyntheticClip, render_clip

# Shared read-only data lives next to the repository (../shared/data).
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FRAME_SIZE = (96, 80)  # (width, height): tests stay at <= 96 px
SMALL_MOTION = Motion(dx=2.5, dy=-1.5, rotation_deg=1.0, occluder_dx=-3.0, occluder_dy=1.0)


@pytest.fixture(scope="session")
def small_clip() -> SyntheticClip:
    """3 frames of the astronaut: sub-pixel pan + rotation, occluder moving the other way."""
    return render_clip(skimage.data.astronaut(), FRAME_SIZE, SMALL_MOTION, 3)


@pytest.fixture(scope="session")
def integer_clip() -> SyntheticClip:
    """Pure integer translations (background and occluder): rendering is exact copying."""
    motion = Motion(dx=3.0, dy=-2.0, occluder_dx=-4.0, occluder_dy=2.0)
    return render_clip(skimage.data.coffee(), FRAME_SIZE, motion, 2)


@pytest.fixture(scope="session")
def photoreal_clip() -> SyntheticClip:
    """2 frames of the shared photoreal photo in1.png (skipped when the data is absent)."""
    path = SHARED_DATA / "photoreal" / "in1.png"
    if not path.is_file():
        pytest.skip("shared photoreal data not available")
    photo = np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])
    return render_clip(photo, FRAME_SIZE, SMALL_MOTION, 2)


def _write_frames(frames: list[np.ndarray], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, frame in enumerate(frames, start=1):
        path = folder / f"frame_{number:04d}.png"
        assert cv2.imwrite(str(path), np.ascontiguousarray(frame[:, :, ::-1]))
        paths.append(path)
    return paths


@pytest.fixture
def write_frames() -> Callable[[list[np.ndarray], Path], list[Path]]:
    """``write_frames(frames, folder)``: RGB frames -> ``frame_0001.png``... paths."""
    return _write_frames
