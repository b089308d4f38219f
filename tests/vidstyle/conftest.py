"""Fixtures for the stylizer tests: tiny real photos and one shared feature net."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from vidstyle.images import resize_long_side


def _photo(name: str, side: int) -> np.ndarray:
    return resize_long_side(getattr(skimage.data, name)().astype(np.float32) / 255.0, side)


@pytest.fixture(scope="session")
def content64() -> np.ndarray:
    """A real photo (chelsea the cat), 64 px long side, float32 RGB in [0, 1]."""
    return _photo("chelsea", 64)


@pytest.fixture(scope="session")
def style64() -> np.ndarray:
    """A colourful real image (immunohistochemistry stain) as the style."""
    return _photo("immunohistochemistry", 64)


@pytest.fixture(scope="session", autouse=True)
def deterministic_tensorflow():
    """As the CLI does: TensorFlow op determinism, so reruns are bit-identical."""
    from vidstyle.device import configure_device

    configure_device("auto")


@pytest.fixture
def cli_fails(capfd):
    """Run ``vidstyle ARGS`` expecting an exit; returns (exit code, stdout, stderr)."""
    from vidstyle.cli import main

    def run(*args: str):
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        out, err = capfd.readouterr()
        return exit_info.value.code, out, err

    return run


@pytest.fixture
def cli_ok():
    """Run ``vidstyle ARGS`` expecting success (click exits 0 after --version/--help)."""
    from vidstyle.cli import main

    def run(*args: str) -> None:
        try:
            main(list(args))
        except SystemExit as exc:
            assert exc.code in (0, None)

    return run


@pytest.fixture
def files(tmp_path, content64, style64):
    """content64 and style64 written as PNG files in tmp_path: (content, style)."""
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    cv2.imwrite(str(content), (content64[..., ::-1] * 255).astype(np.uint8))
    cv2.imwrite(str(style), (style64[..., ::-1] * 255).astype(np.uint8))
    return content, style
