"""Shared by the benchmark scripts: the machine's CPU name and RESULTS.md section updates."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform's answer where that is missing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_section(results: Path, heading: str, body: str) -> None:
    """Replace (or append) the section starting with ``heading``, keeping every other one.

    ``body`` starts with the heading line itself; the section ends where the next
    ``## `` heading starts. The file is replaced atomically.
    """
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(heading))
        tail = text[end + 1:] if end != -1 else ""
        text = text[:start] + body + ("\n" + tail if tail else "")
    temp = results.with_suffix(".tmp")
    temp.write_text(text.rstrip("\n") + "\n")
    os.replace(temp, results)
