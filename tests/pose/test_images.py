"""load_image: EXIF orientation, mode conversion, clear errors for bad files; drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.pose.draw import draw_poses, save_drawing
from kiosk.pose.images import ImageLoadError, load_image
from kiosk.pose.types import Pose


def test_loads_real_photo_as_rgb(shared_dir: Path) -> None:
    rgb = load_image(shared_dir / "data/coral/test_couple.jpg")
    assert rgb.shape == (1278, 1920, 3) and rgb.dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW to display
    img.save(tmp_path / "r.jpg", exif=exif, quality=95)
    rgb = load_image(tmp_path / "r.jpg")
    assert rgb.shape == (40, 20, 3)
    assert rgb[:15, :, 0].mean() > 200 and rgb[25:, :, 0].mean() < 60  # red on top now


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16", "1"])
def test_modes_convert_to_rgb(tmp_path: Path, mode: str) -> None:
    img = Image.new("RGB", (8, 6), (200, 100, 50))
    if mode == "I;16":
        img = Image.fromarray(np.full((6, 8), 40000, np.uint16))
    else:
        img = img.convert(mode)
    suffix = ".tif" if mode in ("CMYK", "I;16") else ".png"
    img.save(tmp_path / f"x{suffix}")
    rgb = load_image(tmp_path / f"x{suffix}")
    assert rgb.shape == (6, 8, 3) and rgb.dtype == np.uint8


def test_bad_files_raise_clear_errors(tmp_path: Path, shared_dir: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    data = (shared_dir / "data/coral/test_couple.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    cases = {
        "empty.jpg": "empty file",
        "text.jpg": "not a recognised image format",
        "cut.jpg": "corrupt or truncated",
        "missing.jpg": "no such file",
    }
    for name, reason in cases.items():
        with pytest.raises(ImageLoadError, match=reason) as info:
            load_image(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)
    with pytest.raises(ImageLoadError, match="directory"):
        load_image(tmp_path)


def test_draw_poses(tmp_path: Path) -> None:
    rgb = np.zeros((100, 80, 3), np.uint8)
    xy = np.stack([np.linspace(10, 70, 17), np.linspace(10, 90, 17)], axis=1)
    scores = np.ones(17)
    scores[16] = 0.0
    out = draw_poses(rgb, [Pose(xy, scores)])
    assert out.shape == rgb.shape and out.any() and not rgb.any()
    assert out[int(xy[16, 1]), int(xy[16, 0])].sum() == 0  # unconfident keypoint not drawn
    path = save_drawing(rgb, [Pose(xy, scores)], tmp_path / "d" / "x.png")
    assert load_image(path).shape == (100, 80, 3)
