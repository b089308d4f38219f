"""A fresh clone stands alone: README, docs and examples point at nothing outside the
repository (no ../shared beside it), and the example scripts run on the data they make."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The development folder beside the repository (../shared, or any absolute path to a
#: "shared" folder) and its contents, which a user's clone does not have.
OUTSIDE = re.compile(r"(?:\.\.|/[\w.-]+)/shared\b|shared/(?:data|tools)/|shared/DESIGN")
EXAMPLE_SCRIPTS = sorted((REPO / "examples").glob("*.sh"))


def user_facing_files() -> list[Path]:
    files = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    files += [p for p in sorted((REPO / "examples").rglob("*")) if p.is_file() and p.suffix in (".sh", ".py", ".toml",
                                                                                                 ".md")]
    return files


@pytest.mark.parametrize("path", user_facing_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_nothing_points_outside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    found = sorted({m.group(0) for m in OUTSIDE.finditer(text)})
    assert not found, f"{path.relative_to(REPO)} mentions {found}: ship or generate what it needs in the repository"


def test_readme_links_stay_inside_the_repository():
    for path in (REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))):
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert REPO in resolved.parents or resolved == REPO, f"{path.name} links {target}, outside the repository"
            assert resolved.exists(), f"{path.name} links {target}, which is not in the repository"


def test_example_data_is_made_from_what_the_package_installs(tmp_path):
    subprocess.run([sys.executable, str(REPO / "examples" / "photoreal_assets.py"), "--out", str(tmp_path),
                    "--size", "64"], check=True, capture_output=True, timeout=120)
    for script in EXAMPLE_SCRIPTS:
        for name in set(re.findall(r'"\$DATA/([\w.]+)"', script.read_text())):
            assert (tmp_path / name).is_file(), f"{script.name} needs {name}, which photoreal_assets.py does not make"


@pytest.mark.parametrize("script", EXAMPLE_SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs(script, tmp_path):
    """Each script end to end at 48 px and 2 iterations, its data made on the way."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "SIZE": "48", "ITERATIONS": "2", "DATA": str(tmp_path / "data"), "OUT": str(tmp_path / "out"),
           "PYTHON": sys.executable, "VIDSTYLE": str(bin_dir / "vidstyle"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if not (bin_dir / "vidstyle").is_file():
        pytest.skip(f"no vidstyle command beside {sys.executable} (pip install -e .)")
    done = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    written = [p for p in (tmp_path / "out").rglob("*.png")]
    assert written, f"{script.name} wrote no image"
