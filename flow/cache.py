"""A flow cache shared between runs, capped in size, least recently used entries evicted.

Layout: one entry per frame pair, ``{root}/{key[:2]}/{key}/`` with the four files of
:data:`CACHE_FILES`, where ``key`` is the 64-hex SHA-256 that :mod:`flow.store` makes of
both frame files, the flow settings and the frame size. Only folders of exactly that
shape are entries: :meth:`FlowCache.info`, :meth:`FlowCache.evict` and
:meth:`FlowCache.clear` count and delete nothing else, so unknown files in a
user-chosen cache folder are safe.

An entry appears at once (a staging folder renamed into place) and is never changed
afterwards. Its folder's modification time is its last use: :meth:`FlowCache.lookup`
touches it. :meth:`FlowCache.evict` deletes the least recently used entries until the
cache fits its cap, each by renaming it out of the way first, so a concurrent reader
finds a whole entry or none; a reader that loses the race (a file vanishes while it
copies) just computes the flow again.

The cap is ``max_gb`` (GB, 10^9 bytes), else ``$VIDSTYLE_CACHE_MAX_GB``, else
:data:`DEFAULT_MAX_GB`. At 1024x436 one pair takes about 8 MB, so the default keeps
about 1,200 pairs.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from flow import io as flow_io
from flow.errors import FlowError

__all__ = ["CACHE_FILES", "DEFAULT_MAX_GB", "MAX_GB_ENV", "CacheInfo", "FlowCache"]

logger = logging.getLogger(__name__)

CACHE_FILES = ("forward.flo", "backward.flo", "reliable_forward.pgm", "reliable_backward.pgm")
DEFAULT_MAX_GB = 10.0
MAX_GB_ENV = "VIDSTYLE_CACHE_MAX_GB"
BYTES_PER_GB = 10**9
_KEY = re.compile(r"^[0-9a-f]{64}$")
_PREFIX = re.compile(r"^[0-9a-f]{2}$")


def max_bytes_from(max_gb: float | None) -> int:
    """The cap in bytes: ``max_gb``, else ``$VIDSTYLE_CACHE_MAX_GB``, else the default."""
    if max_gb is None:
        text = os.environ.get(MAX_GB_ENV, "").strip()
        if not text:
            max_gb = DEFAULT_MAX_GB
        else:
            try:
                max_gb = float(text)
            except ValueError:
                max_gb = -1.0
            if not max_gb >= 0:  # also NaN
                raise FlowError(f"{MAX_GB_ENV} must be a number of GB >= 0; got {text!r}")
    if not max_gb >= 0 or max_gb == float("inf"):
        raise FlowError(f"the flow cache cap must be a number of GB >= 0; got {max_gb}")
    return int(max_gb * BYTES_PER_GB)


@dataclass(frozen=True)
class CacheInfo:
    """What a cache folder holds: ``entries`` pairs taking ``size`` bytes, cap ``max_bytes``."""

    path: Path
    entries: int
    size: int
    max_bytes: int


@dataclass(frozen=True)
class _Entry:
    path: Path
    size: int
    used: float  # modification time of the entry folder: last store or lookup


class FlowCache:
    """A flow cache folder (see the module docs).

    Parameters
    ----------
    root : Path
        The folder; created on the first :meth:`store`.
    max_gb : float, optional
        Cap in GB (10^9 bytes); None: ``$VIDSTYLE_CACHE_MAX_GB`` or 10.

    Raises
    ------
    FlowError
        A negative or non-numeric cap.
    """

    def __init__(self, root: str | os.PathLike[str], *, max_gb: float | None = None) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes_from(max_gb)

    def __repr__(self) -> str:
        return f"FlowCache({str(self.root)!r}, max_bytes={self.max_bytes})"

    def entry_path(self, key: str) -> Path:
        """Folder of the entry ``key`` (64 lowercase hex digits)."""
        if not _KEY.match(key):
            raise FlowError(f"a flow cache key is 64 lowercase hex digits; got {key!r}")
        return self.root / key[:2] / key

    def lookup(self, key: str) -> Path | None:
        """The entry folder of ``key`` when it holds every file, marked as just used; else None.

        The entry may be evicted by another process while the caller reads it; treat an
        ``OSError`` while reading as a miss.
        """
        entry = self.entry_path(key)
        if not all((entry / name).is_file() for name in CACHE_FILES):
            return None
        try:
            os.utime(entry)
        except OSError:  # a read-only cache (another user's) still serves its entries
            pass
        return entry

    def store(self, key: str, files: Mapping[str, str | os.PathLike[str]]) -> int:
        """Copy one pair's files (role in :data:`CACHE_FILES` -> path) in as one entry.

        Returns the bytes added: 0 when the entry already exists (another process or
        run stored it first) or the copy failed (logged; the cache is an optimization).
        Call :meth:`evict` afterwards to keep the cap.
        """
        if set(files) != set(CACHE_FILES):
            raise FlowError(f"a flow cache entry holds exactly {', '.join(CACHE_FILES)}; got {sorted(files)}")
        entry = self.entry_path(key)
        if entry.is_dir():
            return 0
        staging = None
        try:
            staging = flow_io.make_temp_dir(entry.parent, key[:8])
            size = 0
            for role, source in files.items():
                shutil.copyfile(source, staging / role)
                size += (staging / role).stat().st_size
            os.replace(staging, entry)
        except OSError as exc:  # e.g. another process stored the same entry first
            logger.debug("flow cache entry %s not stored: %s", entry.name, exc)
            return 0
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        return size

    def _entries(self, *, sweep: bool = False) -> Iterator[_Entry]:
        """Every entry of ours; with ``sweep``, deletes stale staging folders on the way."""
        try:
            prefixes = [p for p in os.scandir(self.root) if _PREFIX.match(p.name) and p.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for prefix in prefixes:
            if sweep:
                flow_io.sweep_temp_files(prefix.path)
            try:
                candidates = list(os.scandir(prefix.path))
            except OSError:
                continue
            for candidate in candidates:
                if not _KEY.match(candidate.name) or not candidate.name.startswith(prefix.name):
                    continue
                entry = _entry_of(Path(candidate.path))
                if entry is not None:
                    yield entry

    def info(self) -> CacheInfo:
        """Entries and bytes held now, and the cap."""
        entries = list(self._entries())
        return CacheInfo(self.root, len(entries), sum(e.size for e in entries), self.max_bytes)

    def evict(self, max_bytes: int | None = None) -> tuple[int, int]:
        """Delete least recently used entries until at most ``max_bytes`` (default: the cap) remain.

        Returns ``(entries, bytes)`` deleted. Safe while other processes read, store or
        evict: an entry another process deleted first is skipped.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        entries = sorted(self._entries(sweep=True), key=lambda e: e.used)
        total = sum(e.size for e in entries)
        removed = freed = 0
        for entry in entries:
            if total <= limit:
                break
            total -= entry.size
            if _delete_entry(entry.path):
                removed += 1
                freed += entry.size
        if removed:
            logger.info("flow cache %s: evicted %d entries (%.1f MB)", self.root, removed, freed / 1e6)
        return removed, freed

    def clear(self) -> tuple[int, int]:
        """Delete every entry (only entries: other files stay). Returns ``(entries, bytes)``."""
        removed = self.evict(0)
        try:
            prefixes = [p for p in os.scandir(self.root) if _PREFIX.match(p.name) and p.is_dir(follow_symlinks=False)]
        except OSError:
            return removed
        for prefix in prefixes:
            try:
                os.rmdir(prefix.path)  # only when empty
            except OSError:
                pass
        return removed


def _entry_of(path: Path) -> _Entry | None:
    """An entry folder of ours: nothing in it but (some of) CACHE_FILES, as plain files."""
    try:
        used = path.lstat().st_mtime
        size = 0
        with os.scandir(path) as names:
            for name in names:
                if name.name not in CACHE_FILES or not name.is_file(follow_symlinks=False):
                    return None
                size += name.stat(follow_symlinks=False).st_size
    except OSError:  # not a folder, or gone (evicted meanwhile)
        return None
    return _Entry(path, size, used)


def _delete_entry(path: Path) -> bool:
    """Rename the entry out of the way (atomic for readers), then delete it."""
    doomed = flow_io.temp_path(path.parent / "evict")
    try:
        os.rename(path, doomed)
    except OSError:  # evicted or cleared by another process first
        return False
    shutil.rmtree(doomed, ignore_errors=True)
    return True
