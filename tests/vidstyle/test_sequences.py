"""Numbered image sequences: patterns, NAME.NUMBER.EXT folders, frame numbers → positions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidstyle.errors import InputError, OptionError
from vidstyle.frames import frame_selection, open_frames
from vidstyle.sequences import (
    is_pattern,
    numbered_folder,
    pattern_files,
    positions_for_numbers,
    sequence_folder,
    sequence_stem,
)


def _frames(folder, names, size=(24, 16)):
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        if name.endswith(".png"):
            cv2.imwrite(str(folder / name), np.full((size[1], size[0], 3), 40 * k, np.uint8))
        else:
            (folder / name).write_text("not a frame")
    return folder


def test_pattern_matches_padding_and_ignores_other_files(tmp_path):
    _frames(tmp_path, ["shot_a.1001.png", "shot_a.1002.png", "shot_a.10000.png", "shot_a.01003.png",
                       "shot_b.1001.png", "notes.txt"])
    for pattern in ("shot_a.####.png", "shot_a.%04d.png"):
        seq = pattern_files(tmp_path / pattern)
        assert seq.numbers == [1001, 1002, 10000]  # 01003 has more padding than ####
        assert [p.name for p in seq.files] == ["shot_a.1001.png", "shot_a.1002.png", "shot_a.10000.png"]
    assert is_pattern(tmp_path / "a.####.exr") and is_pattern(tmp_path / "a.%d.exr")
    assert not is_pattern(tmp_path / "a.1001.exr")
    assert sequence_folder(tmp_path / "shot_a.####.png") == tmp_path
    assert sequence_stem(tmp_path / "shot_a.####.png") == "shot_a"
    with pytest.raises(InputError, match="no frames match"):
        pattern_files(tmp_path / "shot_c.####.png")
    with pytest.raises(OptionError, match="exactly one"):
        pattern_files(tmp_path / "shot_##_a.####.png")


def test_numbered_folder_only_when_every_file_is_name_number_ext(tmp_path):
    files = [tmp_path / n for n in ("shot.1002.exr", "shot.1001.exr", "shot.1010.exr")]
    seq = numbered_folder(files)
    assert seq.numbers == [1001, 1002, 1010] and seq.label == "shot.####.exr"
    assert numbered_folder([tmp_path / "f1.png", tmp_path / "f2.png"]) is None  # positions, as before
    assert numbered_folder([tmp_path / "a.1.png", tmp_path / "b.2.png"]) is None
    assert numbered_folder([tmp_path / "a.1.png", tmp_path / "a.01.png"]) is None  # one number twice


def test_positions_for_numbers_with_gaps():
    numbers = [1001, 1002, 1005, 1006]
    assert positions_for_numbers(numbers, None, None, "s") == (0, None)
    assert positions_for_numbers(numbers, 1002, 1005, "s") == (1, 3)
    assert positions_for_numbers(numbers, 1003, None, "s") == (2, None)  # a gap starts at the next frame
    assert positions_for_numbers(numbers, None, 1004, "s") == (0, 2)
    assert positions_for_numbers(numbers, 1005, 9999, "s") == (2, 4)  # an end past the last is the last
    for start, end, message in ((1, None, "--start 1 is before the first"), (1007, None, "after the last"),
                                (None, 1000, "before the first"), (1003, 1004, "no frame between")):
        with pytest.raises(OptionError, match=message):
            positions_for_numbers(numbers, start, end, "s")


def test_open_frames_carries_numbers_and_names(tmp_path):
    _frames(tmp_path / "plates", ["shot_a.1001.png", "shot_a.1002.png", "shot_a.1003.png"])
    selection = frame_selection(tmp_path / "plates", 1002, 1003)
    source = open_frames(tmp_path / "plates", selection=selection)
    assert source.numbered and source.numbers == [1002, 1003]
    assert source.stems == ["shot_a.1002", "shot_a.1003"]
    pattern = open_frames(tmp_path / "plates" / "shot_a.####.png", selection=frame_selection(
        tmp_path / "plates" / "shot_a.####.png", None, 1001))
    assert len(pattern) == 1 and pattern.numbers == [1001]
    # A plain folder keeps 1-based positions.
    _frames(tmp_path / "plain", ["f1.png", "f2.png", "f3.png"])
    plain = open_frames(tmp_path / "plain", selection=frame_selection(tmp_path / "plain", 2, None))
    assert not plain.numbered and plain.numbers == [2, 3] and plain.stems is None
    with pytest.raises(OptionError, match="count from 1"):
        frame_selection(tmp_path / "plain", 0, None)
