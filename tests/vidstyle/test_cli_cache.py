"""``vidstyle cache info|clear`` and the cache options of ``vidstyle flow``, through the
real entry point: exit codes, output, and that unknown files in a cache folder stay."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from flow.cache import CACHE_FILES, MAX_GB_ENV, FlowCache


def run(*args: str) -> int:
    from vidstyle.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.fixture
def cache_dir(tmp_path):
    """A cache folder with 2 entries of 4 kB and a file of the user."""
    root = tmp_path / "cache"
    cache = FlowCache(root)
    for n in range(2):
        key = hashlib.sha256(str(n).encode()).hexdigest()
        sources = {}
        for role in CACHE_FILES:
            sources[role] = tmp_path / role
            sources[role].write_bytes(b"x" * 1000)
        cache.store(key, sources)
    (root / "README.txt").write_text("mine")
    return root


def test_info_and_clear(cache_dir, capfd, monkeypatch):
    monkeypatch.setenv(MAX_GB_ENV, "3")
    assert run("cache", "info", "--cache-dir", str(cache_dir)) == 0
    out = capfd.readouterr().out
    assert f"path: {cache_dir}" in out and "entries: 2" in out and "size: 0.0 MB" in out and "cap: 3.00 GB" in out
    assert run("cache", "clear", "--cache-dir", str(cache_dir)) == 0
    assert "removed 2 entries" in capfd.readouterr().out
    assert [p.name for p in cache_dir.iterdir()] == ["README.txt"]
    assert run("cache", "info", "--cache-dir", str(cache_dir)) == 0
    assert "entries: 0" in capfd.readouterr().out


def test_default_cache_folder_from_environment(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("VIDSTYLE_CACHE", str(tmp_path / "shared"))
    monkeypatch.delenv(MAX_GB_ENV, raising=False)
    assert run("cache", "info") == 0  # a cache that does not exist yet is empty
    out = capfd.readouterr().out
    assert f"path: {tmp_path / 'shared' / 'flow'}" in out and "entries: 0" in out and "cap: 10.00 GB" in out
    assert run("cache", "clear") == 0
    assert not (tmp_path / "shared").exists()


def test_bad_input_exits_2(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv(MAX_GB_ENV, "lots")
    assert run("cache", "info", "--cache-dir", str(tmp_path)) == 2
    assert f"{MAX_GB_ENV} must be a number" in capfd.readouterr().err
    monkeypatch.delenv(MAX_GB_ENV)
    (tmp_path / "file").write_text("x")
    assert run("cache", "info", "--cache-dir", str(tmp_path / "file")) == 2
    assert run("cache", "frobnicate") == 2


def test_flow_command_cache_options(tmp_path, capfd):
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8), (0, 0), 2)
    for k in range(3):
        cv2.imwrite(str(frames / f"frame_{k + 1:04d}.png"), np.roll(base, k, axis=1))
    cache = tmp_path / "cache"
    assert run("flow", str(frames), "-o", str(tmp_path / "a"), "--cache-dir", str(cache), "--no-cache",
               "--jobs", "1") == 0
    assert not cache.exists()
    assert run("flow", str(frames), "-o", str(tmp_path / "b"), "--cache-dir", str(cache), "--cache-max-gb", "1",
               "--jobs", "1") == 0
    assert FlowCache(cache).info().entries == 2
    assert run("flow", str(frames), "-o", str(tmp_path / "c"), "--cache-dir", str(cache), "--cache-max-gb", "0",
               "--jobs", "1") == 0
    assert "2 from cache" in capfd.readouterr().out
    assert run("flow", str(frames), "-o", str(tmp_path / "d"), "--cache-max-gb", "-1") == 2
