"""``vidstyle image`` through the real entry point: outputs, odd inputs, bad inputs."""

import cv2
import numpy as np
import pytest

from vidstyle import __version__

FAST = ("--size", "48", "--iterations", "3", "--pyramid", "1")


def test_version(capfd, cli_ok):
    cli_ok("--version")
    assert __version__ in capfd.readouterr().out


def test_writes_valid_png_and_intermediates(tmp_path, files, capfd, cli_ok):
    content, style = files
    out = tmp_path / "out.png"
    cli_ok("image", str(content), str(style), "-o", str(out), *FAST, "--save-every", "2")
    image = cv2.imread(str(out))
    assert image is not None and max(image.shape[:2]) == 48
    assert list(tmp_path.glob("out.level1.iter00002.png"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    captured = capfd.readouterr()
    assert "wrote" in captured.out and "Traceback" not in captured.err


def test_cli_is_deterministic(tmp_path, files, cli_ok):
    content, style = files
    for name in ("a.png", "b.png"):
        cli_ok("image", str(content), str(style), "-o", str(tmp_path / name), *FAST, "--init", "random", "--seed", "3")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize("kind", ["gray", "rgba", "16bit"])
def test_odd_but_valid_inputs_are_converted(tmp_path, files, kind, content64, cli_ok):
    _, style = files
    image = (content64[..., ::-1] * 255).astype(np.uint8)
    if kind == "gray":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif kind == "rgba":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    else:
        image = image.astype(np.uint16) * 257
    path = tmp_path / f"{kind}.png"
    cv2.imwrite(str(path), image)
    out = tmp_path / f"out_{kind}.png"
    cli_ok("image", str(path), str(style), "-o", str(out), *FAST)
    assert cv2.imread(str(out)).shape[2] == 3


def _bad_cases(tmp_path, content, style):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n garbage!!")
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((8, 8, 3), np.uint8))
    huge = tmp_path / "huge.png"
    cv2.imwrite(str(huge), np.zeros((4200, 4200, 3), np.uint8))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = str(tmp_path / "o.png")
    return {
        "missing content": (["image", str(tmp_path / "nope.png"), str(style), "-o", out], "not found"),
        "empty content": (["image", str(empty), str(style), "-o", out], "empty"),
        "corrupt style": (["image", str(content), str(corrupt), "-o", out], "corrupt"),
        "tiny content": (["image", str(tiny), str(style), "-o", out], "small"),
        "huge content": (["image", str(huge), str(style), "-o", out, "--size", "8192"], "--size"),
        "unknown preset": (["image", str(content), str(style), "-o", out, "--preset", "bogus"], "unknown preset"),
        "bad style scale": (["image", str(content), str(style), "-o", out, "--style-scale", "0"], "style-scale"),
        "bad pyramid": (["image", str(content), str(style), "-o", out, "--pyramid", "3",
                         "--pyramid-iterations", "5"], "pyramid-iterations"),
        "bad list": (["image", str(content), str(style), "-o", out, "--style-blend", "a,b"], "comma-separated"),
        "bad blend count": (["image", str(content), str(style), "-o", out, "--style-blend", "1,2", *FAST],
                            "one weight per style"),
        "unwritable output": (["image", str(content), str(style), "-o", str(blocker / "sub" / "o.png")],
                              "cannot write"),
        "bad extension": (["image", str(content), str(style), "-o", str(tmp_path / "o.txt")], "extension"),
    }


CASES = ["missing content", "empty content", "corrupt style", "tiny content", "huge content", "unknown preset",
         "bad style scale", "bad pyramid", "bad list", "bad blend count", "unwritable output", "bad extension"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line_exit_2(tmp_path, files, cli_fails, case):
    args, needle = _bad_cases(tmp_path, *files)[case]
    code, _, err = cli_fails(*args, *FAST[2:])  # tiny budget in case a check came too late
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert needle.lower() in err.lower(), err
    assert len(lines) <= 3, err  # click usage errors add a usage + hint line; ours are one line
    assert not (tmp_path / "o.png").exists()
