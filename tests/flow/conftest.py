"""Fixtures for the flow tests: tiny known-motion clips made from real photos."""

from __future__ import annotations

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


def write_frames(frames: list[np.ndarray], folder: Path) -> list[Path]:
    """Write RGB frames as PNG files ``frame_0001.png``... and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, frame in enumerate(frames, start=1):
        path = folder / f"frame_{number:04d}.png"
        assert cv2.imwrite(str(path), np.ascontiguousarray(frame[:, :, ::-1]))
        paths.append(path)
    return paths
