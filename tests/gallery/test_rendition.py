from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kiosk.gallery.rendition import (
    RenditionSpec,
    crop_box,
    parse_size,
    render,
    to_rendition_coords,
)
from kiosk.pose.types import Pose


def standing(x0: float, y0: float, h: float) -> Pose:
    """A full-body pose of height h whose head is near (x0, y0)."""
    base = np.array([
        [0.5, 0.05], [0.52, 0.03], [0.48, 0.03], [0.55, 0.04], [0.45, 0.04],
        [0.62, 0.2], [0.38, 0.2], [0.68, 0.38], [0.32, 0.38], [0.7, 0.55], [0.3, 0.55],
        [0.58, 0.55], [0.42, 0.55], [0.58, 0.77], [0.42, 0.77], [0.58, 1.0], [0.42, 1.0],
    ])
    return Pose(np.array([x0, y0]) + (base - [0.5, 0.0]) * h * np.array([0.5, 1.0]), np.full(17, 0.9))


@pytest.mark.parametrize("size", [(960, 1080), (1080, 1920), (640, 480)])
@pytest.mark.parametrize(
    ("frame", "pose"),
    [
        ((1920, 1080), standing(960, 100, 800)),  # centred in a landscape frame
        ((720, 1280), standing(360, 200, 1000)),  # tall person in a portrait frame
        ((1000, 1000), standing(60, 500, 400)),  # near the left edge
        ((400, 300), standing(200, 10, 280)),  # fills the frame: the crop shrinks to fit it
    ],
)
def test_crop_box_has_display_aspect_and_holds_the_person(
    size: tuple[int, int], frame: tuple[int, int], pose: Pose
) -> None:
    spec = RenditionSpec(size=size)
    x0, y0, x1, y1 = crop_box(pose, frame[0], frame[1], spec, 0.3)
    assert all(isinstance(v, int) for v in (x0, y0, x1, y1))
    assert (x1 - x0) / (y1 - y0) == pytest.approx(size[0] / size[1], rel=0.01)
    assert 0 <= x0 and x1 <= frame[0] and 0 <= y0 and y1 <= frame[1]  # inside: no black bars
    px0, py0, px1, py1 = pose.bbox(0.3)
    if (px1 - px0) * 1.3 < frame[0] and (py1 - py0) * 1.4 < frame[1]:  # room for the margins
        assert x0 <= px0 and y0 <= py0 and x1 >= px1 and y1 >= py1
    else:  # shrunk to the frame: the person's centre stays in the box
        assert x0 <= (px0 + px1) / 2 <= x1 and y0 <= (py0 + py1) / 2 <= y1


def test_rendition_of_a_person_filling_the_frame_has_no_black_bars() -> None:
    rgb = np.full((300, 400, 3), 200, np.uint8)  # a grey frame
    spec = RenditionSpec(size=(96, 108))
    box = crop_box(standing(200, 10, 280), 400, 300, spec, 0.3)
    im = np.asarray(Image.open(io.BytesIO(render(rgb, box, spec))).convert("RGB"))
    assert im.min() > 150  # nothing padded black


def test_rendition_has_display_size_and_keypoints_follow() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    rgb[300:310, 400:410] = (255, 0, 0)  # a red marker under the left hip
    pose = Pose(standing(400, 100, 450).xy, np.full(17, 0.9))
    xy = pose.xy.copy()
    xy[11] = (405, 305)
    pose = Pose(xy, pose.scores)
    spec = RenditionSpec(size=(480, 540))
    box = crop_box(pose, 800, 600, spec, 0.3)
    for mirrored in (False, True):
        im = Image.open(io.BytesIO(render(rgb, box, spec, mirrored)))
        assert im.size == spec.size and im.format == "JPEG"
        kp = to_rendition_coords(pose, box, spec.size, mirrored)
        hip = 12 if mirrored else 11  # left and right swap names in a mirror
        x, y = kp.xy[hip]
        r, g, b = np.asarray(im.convert("RGB"))[int(y), int(x)]
        assert r > 180 and g < 90 and b < 90


def test_webp(tmp_path) -> None:
    rgb = np.zeros((100, 100, 3), np.uint8)
    data = render(rgb, (0, 0, 50, 50), RenditionSpec(size=(64, 64), fmt="webp"))
    assert Image.open(io.BytesIO(data)).format == "WEBP"


@pytest.mark.parametrize(("text", "ok"), [("960x1080", (960, 1080)), ("1920X1080", (1920, 1080)),
                                            ("960", None), ("0x10", None), ("axb", None)])
def test_parse_size(text: str, ok: tuple[int, int] | None) -> None:
    if ok:
        assert parse_size(text) == ok
    else:
        with pytest.raises(ValueError, match="display size"):
            parse_size(text)
