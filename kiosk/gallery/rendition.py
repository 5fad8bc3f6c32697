"""Display renditions: a crop around the person, resized once (at build time) to the display size.

The crop is the box of the person's confident keypoints, grown by `margin` (a fraction of the
person's height) on every side and by `head_room` more at the top (keypoints stop at the eyes),
then widened or heightened to the display's aspect ratio and slid inside the frame. A box larger
than the frame (a person filling a narrow frame) is shrunk, keeping the aspect and its centre, until
it fits: the margins are cut rather than padded, so a rendition never has black bars. The box is
rounded to whole pixels so that rendition keypoints are an exact affine map of source keypoints.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass

import numpy as np

from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

FORMATS = {"jpeg": ".jpg", "webp": ".webp"}


@dataclass(frozen=True)
class RenditionSpec:
    size: tuple[int, int] = (960, 1080)  # (w, h): half a 1920x1080 screen, side by side
    fmt: str = "jpeg"
    quality: int = 88
    margin: float = 0.12
    head_room: float = 0.08

    @property
    def ext(self) -> str:
        return FORMATS[self.fmt]

    def key(self) -> str:
        w, h = self.size
        return f"{w}x{h}-{self.fmt}-q{self.quality}-m{self.margin}-h{self.head_room}"


def parse_size(text: str) -> tuple[int, int]:
    """'960x1080' -> (960, 1080); raises ValueError saying what is expected."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"display size {text!r}: expected WIDTHxHEIGHT, e.g. 960x1080") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ValueError(f"display size {text!r}: each side must be within 16..8192 pixels")
    return w, h


def _slide(lo: float, length: float, limit: float) -> float:
    """Move [lo, lo+length] inside [0, limit] if it fits, else centre it on the same centre."""
    if length <= limit:
        return min(max(lo, 0.0), limit - length)
    return lo


def crop_box(
    pose: Pose, frame_w: int, frame_h: int, spec: RenditionSpec, keypoint_score: float
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in source pixels, integer, with the display's aspect ratio."""
    x0, y0, x1, y1 = pose.bbox(keypoint_score)
    ph = max(y1 - y0, x1 - x0, 1.0)
    pad = spec.margin * ph
    x0, x1 = x0 - pad, x1 + pad
    y0, y1 = y0 - pad - spec.head_room * ph, y1 + pad
    w, h = x1 - x0, y1 - y0
    aspect = spec.size[0] / spec.size[1]
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    shrink = min(1.0, frame_w / w, frame_h / h)  # never larger than the frame: no black bars
    w, h = w * shrink, h * shrink
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bx = _slide(cx - w / 2, w, frame_w)
    by = _slide(cy - h / 2, h, frame_h)
    # Round to whole pixels, then fix the aspect from the rounded height.
    hi = max(min(round(h), frame_h), 2)
    wi = max(round(hi * aspect), 2)
    if wi > frame_w:  # rounding pushed the width past the frame
        wi = max(frame_w, 2)
        hi = max(min(math.floor(wi / aspect), frame_h), 2)
    bxi = math.floor(bx + (w - wi) / 2 + 0.5)
    byi = math.floor(by + (h - hi) / 2 + 0.5)
    if wi <= frame_w:
        bxi = min(max(bxi, 0), frame_w - wi)
    if hi <= frame_h:
        byi = min(max(byi, 0), frame_h - hi)
    return bxi, byi, bxi + wi, byi + hi


def to_rendition_coords(
    pose: Pose, box: tuple[int, int, int, int], size: tuple[int, int], mirrored: bool
) -> Pose:
    x0, y0, x1, y1 = box
    p = pose.translated(-x0, -y0).scaled(size[0] / (x1 - x0), size[1] / (y1 - y0))
    return p.flipped(size[0]) if mirrored else p


def render(
    rgb: np.ndarray, box: tuple[int, int, int, int], spec: RenditionSpec, mirrored: bool = False
) -> bytes:
    """The encoded rendition (JPEG/WebP bytes) of `box` of the frame at the display size."""
    from PIL import Image, ImageOps

    im = Image.fromarray(rgb).crop(box)  # inside the frame (crop_box shrinks to fit)
    im = im.resize(spec.size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if mirrored:
        im = ImageOps.mirror(im)
    buf = io.BytesIO()
    if spec.fmt == "jpeg":
        im.save(buf, "JPEG", quality=spec.quality, optimize=True)
    else:
        im.save(buf, "WEBP", quality=spec.quality, method=4)
    return buf.getvalue()
