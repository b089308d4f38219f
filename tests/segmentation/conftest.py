"""Shared fixtures for segmentation tests: the DPST photo pairs in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

#: ../shared/data beside the repository (absent on some machines: tests then skip).
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PHOTOREAL = SHARED_DATA / "photoreal"


@pytest.fixture
def photoreal() -> Path:
    if not (PHOTOREAL / "in1.png").is_file():
        pytest.skip(f"shared photoreal data not found at {PHOTOREAL}")
    return PHOTOREAL


def _read_rgb(path: Path, scale: float = 1.0) -> np.ndarray:
    """Read an image as uint8 RGB, optionally downscaled with INTER_AREA."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    if scale != 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[..., ::-1])


@pytest.fixture
def read_rgb():
    """``read_rgb(path, scale=1.0) -> (H, W, 3) uint8 RGB``."""
    return _read_rgb
