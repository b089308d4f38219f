"""Corrupt cached flows (in OUT/flow and in the flow cache) and corrupt mask files: the run
computes the flow again, or ends with one clear line; never a traceback.

In-process runs (``Vidstyle.inprocess``): no separate process is needed here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.faults.conftest import assert_ok, assert_one_line_error, frames_sha, leftovers, tree_sha


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])


def _record_of_pair_3_4(flow_dir: Path) -> Path:
    """The file that records which frames and settings made pair 3→4 (flow.store's manifest)."""
    for name in ("flow-manifest/forward_3_4.json", "flow-manifest.json"):  # per-pair records, or one manifest
        if (flow_dir / name).is_file():
            return flow_dir / name
    pytest.skip(f"no flow record file in {sorted(p.name for p in flow_dir.iterdir())}")


@pytest.mark.parametrize("name", ["backward_4_3.flo", "reliable_4_3.pgm", "record"])
def test_corrupt_file_in_out_flow_is_computed_again(tmp_path, media, vidstyle, reference, name):
    # A render stopped after frame 3 whose flow file for frame 4 got cut short (a disk problem,
    # a copy gone wrong); the rerun must not trust it.
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    (out / "frames" / "frame_00004.png").unlink()
    _truncate(_record_of_pair_3_4(out / "flow") if name == "record" else out / "flow" / name)
    run = vidstyle.inprocess(*vidstyle.video_args(media / "clip", media / "style.png", out))
    assert_ok(run)
    assert frames_sha(out) == frames_sha(reference)
    assert leftovers(out) == []


def test_corrupt_flow_cache_entry_is_computed_again(tmp_path, media, vidstyle, reference):
    # The shared cache (another run's) holds a truncated backward flow: a fresh render recomputes it.
    shutil.copytree(reference.parent / "cache", vidstyle.cache)
    entries = sorted(vidstyle.cache.rglob("backward.flo"))
    assert len(entries) == 3
    for entry in entries:
        _truncate(entry)
    out = tmp_path / "out"
    run = vidstyle.inprocess(*vidstyle.video_args(media / "clip", media / "style.png", out))
    assert_ok(run)
    assert frames_sha(out) == frames_sha(reference)
    assert tree_sha(out / "flow", hidden=False).keys() == tree_sha(reference / "flow", hidden=False).keys()
    for name in ("backward_2_1.flo", "backward_4_3.flo"):
        assert (out / "flow" / name).read_bytes() == (reference / "flow" / name).read_bytes()


@pytest.fixture
def masks(tmp_path, media, vidstyle) -> Path:
    """Masks made with `vidstyle masks` (2 automatic labels shared with the style) in tmp_path/masks."""
    folder = tmp_path / "masks"
    assert_ok(vidstyle.inprocess("masks", str(media / "clip"), "-o", str(folder), "--auto", "2",
                                 "--style", str(media / "style.png"), "--size", "32"))
    assert (folder / "style.png").is_file() and len(list(folder.glob("frame_*.png"))) == 4
    return folder


def _masked_run(vidstyle, media, out: Path, content_masks: Path, style_mask: Path):
    return vidstyle.inprocess(*vidstyle.video_args(media / "clip", media / "style.png", out, "--content-masks",
                                                   str(content_masks), "--style-mask", str(style_mask)))


def test_masks_folder_of_vidstyle_masks_is_accepted(tmp_path, media, vidstyle, masks):
    run = _masked_run(vidstyle, media, tmp_path / "out", masks, masks / "style.png")
    assert_ok(run)
    assert len(frames_sha(tmp_path / "out")) == 4


@pytest.mark.parametrize("which", ["frame_00002.png", "style.png"])
def test_corrupt_mask_file_is_one_clear_line(tmp_path, media, vidstyle, masks, which):
    style_mask = tmp_path / "style-mask.png"
    shutil.move(masks / "style.png", style_mask)  # one mask per frame in the folder
    _truncate(masks / which if which != "style.png" else style_mask)
    user = tree_sha(masks), tree_sha(style_mask)
    run = _masked_run(vidstyle, media, tmp_path / "out", masks, style_mask)
    assert_one_line_error(run, which if which != "style.png" else style_mask.name)
    assert (tree_sha(masks), tree_sha(style_mask)) == user
