"""``vidstyle masks`` and the mask flags of ``vidstyle image`` through the real entry point."""

import cv2
import numpy as np

from segmentation import read_mask


def test_masks_auto_for_image_and_grabcut_for_folder(tmp_path, files, content64, cli_ok):
    content, style = files
    cli_ok("masks", str(content), "-o", str(tmp_path / "auto"), "--auto", "2", "--style", str(style), "--size", "64")
    labels = read_mask(tmp_path / "auto" / "frame_00001.png")
    assert labels.shape == content64.shape[:2] and (tmp_path / "auto" / "style.png").is_file()
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / f"f{k + 1}.png"), np.roll(cv2.imread(str(content)), k, axis=1))
    cli_ok("masks", str(folder), "-o", str(tmp_path / "gc"), "--grabcut", "10,8,40,30", "--size", "64")
    written = sorted((tmp_path / "gc").glob("frame_*.png"))
    assert len(written) == 3 and set(np.unique(read_mask(written[2]))) <= {0, 1}


def test_bad_inputs_one_line_exit_2(tmp_path, files, cli_fails):
    content, style = files
    bad_colour = tmp_path / "bad.png"
    cv2.imwrite(str(bad_colour), np.full((48, 64, 3), (40, 90, 200), np.uint8))
    wrong_shape = tmp_path / "tall.png"
    cv2.imwrite(str(wrong_shape), np.zeros((64, 20, 3), np.uint8))
    out = str(tmp_path / "o.png")
    fast = ("--size", "48", "--iterations", "2", "--pyramid", "1")
    cases = [
        ("image", str(content), str(style), "-o", out, *fast, "--content-masks", str(bad_colour),
         "--style-mask", str(bad_colour)),
        ("image", str(content), str(style), "-o", out, *fast, "--content-masks", str(wrong_shape),
         "--style-mask", str(wrong_shape)),
        ("image", str(content), str(style), "-o", out, *fast, "--grabcut", "0,0,500,500", "--region", "grabcut"),
        ("image", str(content), str(style), "-o", out, *fast, "--grabcut", "1,2,3"),
        ("image", str(content), str(style), "-o", out, *fast, "--content-masks", str(bad_colour)),
        ("masks", str(content), "-o", str(tmp_path / "m"), "--auto", "3"),
    ]
    for args in cases:
        code, _, err = cli_fails(*args)
        assert code == 2, (args, err)
        last = err.strip().splitlines()[-1]
        assert "Traceback" not in err and last.startswith(("vidstyle: error:", "Error:")), err
