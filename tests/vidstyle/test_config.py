"""Presets and settings: built-ins, TOML files, unknown keys, overrides, digests."""

import pytest

from vidstyle.cli import main
from vidstyle.config import build_config, builtin_presets, load_preset, merge
from vidstyle.errors import OptionError


def test_builtin_presets_load_and_differ():
    assert {"artistic", "fast", "quality"} <= set(builtin_presets())
    configs = {name: build_config(load_preset(name)) for name in ("artistic", "fast", "quality")}
    assert configs["fast"].size < configs["artistic"].size < configs["quality"].size
    assert len({c.digest() for c in configs.values()}) == 3


def test_toml_preset_file_and_overrides(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("size = 128\n[optimizer]\niterations = 7\npyramid = 2\npyramid_iterations = [3]\n")
    config = build_config(merge(load_preset(str(path)), {"optimizer": {"iterations": 9, "seed": None}}))
    assert config.size == 128 and config.optimizer.iterations == 9 and config.optimizer.level_iterations(9) == (3, 9)


def test_unknown_keys_are_all_reported(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optimizer]\niteratons = 7\n[colour]\nx = 1\n")
    with pytest.raises(OptionError) as info:
        load_preset(str(path))
    assert "optimizer.iteratons" in str(info.value) and "[colour]" in str(info.value)


def test_invalid_toml_is_an_option_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[optimizer\n")
    with pytest.raises(OptionError, match="not valid TOML"):
        load_preset(str(path))


def test_presets_show_prints_every_table(capsys):
    main(["presets", "show", "fast"])
    out = capsys.readouterr().out
    for table in ("[net]", "[loss]", "[style]", "[optimizer]", "[video]"):
        assert table in out
    assert "size = 256" in out
