"""FlowCache: lookup/store, least-recently-used eviction under a cap, clear leaves foreign
files, the umask, and compute_flows keeping the cache under its cap."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
import skimage.data

from flow.cache import CACHE_FILES, MAX_GB_ENV, FlowCache
from flow.errors import FlowError
from flow.store import FlowSettings, compute_flows
from flow.synthetic import Motion, render_clip

ENTRY_BYTES = 4 * 1000  # four files of 1000 bytes


def key_of(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


@pytest.fixture
def sources(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    files = {}
    for role in CACHE_FILES:
        files[role] = folder / role
        files[role].write_bytes(b"x" * 1000)
    return files


def fill(cache, sources, keys, *, start=1_000_000):
    """Store entries with increasing, well separated use times (oldest first)."""
    for n, key in enumerate(keys):
        assert cache.store(key, sources) == ENTRY_BYTES
        os.utime(cache.entry_path(key), (start + n * 10, start + n * 10))


def test_store_lookup_and_info(tmp_path, sources):
    cache = FlowCache(tmp_path / "cache", max_gb=1)
    key = key_of(1)
    assert cache.lookup(key) is None
    assert cache.store(key, sources) == ENTRY_BYTES
    assert cache.store(key, sources) == 0  # already there
    entry = cache.lookup(key)
    assert entry == tmp_path / "cache" / key[:2] / key
    assert sorted(p.name for p in entry.iterdir()) == sorted(CACHE_FILES)
    info = cache.info()
    assert (info.entries, info.size, info.max_bytes) == (1, ENTRY_BYTES, 10**9)
    with pytest.raises(FlowError, match="64 lowercase hex"):
        cache.lookup("../../etc")


def test_eviction_drops_least_recently_used_first(tmp_path, sources):
    cache = FlowCache(tmp_path / "cache", max_gb=3 * ENTRY_BYTES / 1e9)
    keys = [key_of(n) for n in range(5)]
    fill(cache, sources, keys)
    cache.lookup(keys[0])  # used just now: the newest
    assert cache.evict() == (2, 2 * ENTRY_BYTES)
    assert [cache.lookup(k) is not None for k in keys] == [True, False, False, True, True]
    assert cache.info().size == 3 * ENTRY_BYTES  # at the cap
    assert cache.evict() == (0, 0)


def test_clear_deletes_only_entries(tmp_path, sources):
    root = tmp_path / "cache"
    cache = FlowCache(root)
    fill(cache, sources, [key_of(1), key_of(2)])
    mine = [root / "notes.txt", root / "ab" / "readme", root / "zz" / key_of(3)[:10]]
    odd_entry = root / key_of(4)[:2] / key_of(4)  # entry-like folder with a file of the user
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("user data")
    odd_entry.mkdir(parents=True)
    (odd_entry / "thesis.tex").write_text("user data")
    assert cache.info().entries == 2
    assert cache.clear() == (2, 2 * ENTRY_BYTES)
    assert all(p.read_text() == "user data" for p in mine)
    assert (odd_entry / "thesis.tex").is_file()
    assert cache.info().entries == 0
    assert not (root / key_of(1)[:2]).exists()  # empty prefix folders go too
    assert FlowCache(tmp_path / "missing").clear() == (0, 0)


def test_reader_losing_a_race_with_eviction_sees_a_miss(tmp_path, sources):
    cache = FlowCache(tmp_path / "cache", max_gb=0)
    key = key_of(1)
    fill(cache, sources, [key])
    entry = cache.lookup(key)
    assert cache.evict() == (1, ENTRY_BYTES)  # another process evicts
    assert cache.lookup(key) is None
    with pytest.raises(OSError):
        (entry / "forward.flo").read_bytes()  # compute_flows treats this as a miss
    assert list((tmp_path / "cache" / key[:2]).iterdir()) == []  # no half-deleted entry left


def test_cap_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_GB_ENV, "2.5")
    assert FlowCache(tmp_path).max_bytes == 2_500_000_000
    assert FlowCache(tmp_path, max_gb=1).max_bytes == 10**9  # the option wins
    monkeypatch.delenv(MAX_GB_ENV)
    assert FlowCache(tmp_path).max_bytes == 10 * 10**9
    monkeypatch.setenv(MAX_GB_ENV, "lots")
    with pytest.raises(FlowError, match=f"{MAX_GB_ENV} must be a number"):
        FlowCache(tmp_path)
    with pytest.raises(FlowError, match="GB >= 0"):
        FlowCache(tmp_path, max_gb=-1)


def test_entries_keep_the_umask(tmp_path, sources):
    old = os.umask(0o022)
    try:
        cache = FlowCache(tmp_path / "cache")
        cache.store(key_of(1), sources)
    finally:
        os.umask(old)
    entry = cache.lookup(key_of(1))
    assert stat.S_IMODE(entry.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in entry.iterdir()} == {0o644}


def test_compute_flows_keeps_the_cache_under_its_cap(tmp_path, write_frames):
    clip = render_clip(skimage.data.chelsea(), (48, 40), Motion(dx=1.5, dy=-1.0), 5)
    frames = write_frames(clip.frames, tmp_path / "frames")
    settings = FlowSettings.create("dis", preset="fast")
    cache_dir = tmp_path / "cache"
    compute_flows(frames, tmp_path / "all", settings=settings, cache_dir=cache_dir, jobs=1)
    cache = FlowCache(cache_dir)
    info = cache.info()
    assert info.entries == 4
    per_entry = info.size // 4
    # Cap of 2.5 entries: after the run only the 2 most recently used remain.
    store = compute_flows(frames, tmp_path / "capped", settings=settings, cache_dir=cache_dir, jobs=1,
                          offsets=(2,), cache_max_gb=2.5 * per_entry / 1e9)
    assert store.stats.computed == 3
    info = cache.info()
    assert info.entries == 2 and info.size <= 2.5 * per_entry
    # No cache at all: nothing read, nothing stored.
    again = compute_flows(frames, tmp_path / "none", settings=settings, cache_dir=None, jobs=1)
    assert again.stats.computed == 4 and cache.info().entries == 2


def test_staging_folders_of_killed_runs_are_swept_by_evict(tmp_path, sources):
    from flow import io as flow_io

    cache = FlowCache(tmp_path / "cache")
    key = key_of(1)
    fill(cache, sources, [key])
    prefix = cache.entry_path(key).parent
    live = flow_io.temp_path(prefix / "stage")  # this process is filling it
    dead = prefix / live.name.replace(f"~{os.getpid()}~", "~999999999~")  # no such process
    for folder in (live, dead):
        folder.mkdir()
        (folder / "forward.flo").write_bytes(b"half")
    cache.info()
    assert dead.is_dir()  # info only looks
    cache.evict()
    assert live.is_dir() and not dead.exists() and cache.lookup(key) is not None
