"""Screen geometry: where the live camera and the photo go (no drawing here).

Layouts are computed on the *logical* canvas: the screen as the visitor sees it. With
display.rotation 90 or 270 (a portrait screen) the logical canvas is the physical one turned
(1080x1920 for a 1920x1080 panel) and the composed image is rotated clockwise at the end.

side_by_side   landscape canvas: camera left half | photo right half;
               portrait canvas: camera top half / photo bottom half.
full_mirror    the photo slot is the whole canvas; the live camera is an inset
               (display.inset_fraction of the canvas width) in the bottom-right corner.

Photo slot sizes are what the gallery builder should render at (renditions matching the slot
are blitted as they are; others are fitted once, when loaded, never per frame).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.core.enums import ScreenLayout

if TYPE_CHECKING:
    from kiosk.app.service.config import DisplayConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def size(self) -> tuple[int, int]:
        return self.w, self.h

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h


@dataclass(frozen=True)
class Layout:
    name: str
    canvas: tuple[int, int]  # logical (w, h)
    screen: tuple[int, int]  # physical (w, h)
    rotation: int  # clockwise degrees applied to the canvas for the screen
    camera: Rect
    photo: Rect
    inset: bool  # the camera is drawn over the photo


@dataclass(frozen=True)
class CoverMap:
    """How a frame fills a rect ("cover": scaled to fill, centred, the overflow cropped)."""

    crop: Rect  # in frame pixels
    scale: float
    dest: Rect

    def point(self, x: float, y: float) -> tuple[int, int]:
        return (round((x - self.crop.x) * self.scale + self.dest.x),
                round((y - self.crop.y) * self.scale + self.dest.y))


def logical_size(screen: tuple[int, int], rotation: int) -> tuple[int, int]:
    w, h = screen
    return (h, w) if rotation % 180 == 90 else (w, h)


def make_layout(config: DisplayConfig, screen: tuple[int, int],
                camera_size: tuple[int, int] | None = None) -> Layout:
    """The layout for a screen of `screen` physical pixels; camera_size (w, h) sizes the inset."""
    rotation = int(config.rotation) % 360
    cw, ch = logical_size(screen, rotation)
    if config.layout == ScreenLayout.FULL_MIRROR:
        photo = Rect(0, 0, cw, ch)
        fw, fh = camera_size or (16, 9)
        iw = max(round(cw * config.inset_fraction), 16)
        ih = max(round(iw * fh / max(fw, 1)), 16)
        if ih > ch // 2:  # a tall camera image: bound the inset's height instead
            ih = ch // 2
            iw = max(round(ih * fw / max(fh, 1)), 16)
        margin = max(round(min(cw, ch) * 0.02), 4)
        camera = Rect(cw - iw - margin, ch - ih - margin, iw, ih)
        return Layout(ScreenLayout.FULL_MIRROR, (cw, ch), screen, rotation, camera, photo, True)
    if cw >= ch:
        half = cw // 2
        camera, photo = Rect(0, 0, half, ch), Rect(half, 0, cw - half, ch)
    else:
        half = ch // 2
        camera, photo = Rect(0, 0, cw, half), Rect(0, half, cw, ch - half)
    return Layout(ScreenLayout.SIDE_BY_SIDE, (cw, ch), screen, rotation, camera, photo, False)


def cover(frame_w: int, frame_h: int, dest: Rect) -> CoverMap:
    """Scale a frame to fill dest, keeping its aspect, cropping the overflow around the centre."""
    s = max(dest.w / frame_w, dest.h / frame_h)
    sw = min(frame_w, max(1, round(dest.w / s)))
    sh = min(frame_h, max(1, round(dest.h / s)))
    crop = Rect((frame_w - sw) // 2, (frame_h - sh) // 2, sw, sh)
    return CoverMap(crop, s, dest)


def fit(img_w: int, img_h: int, dest: Rect) -> Rect:
    """The largest rect of the image's aspect inside dest, centred ("contain")."""
    s = min(dest.w / img_w, dest.h / img_h)
    w, h = max(1, round(img_w * s)), max(1, round(img_h * s))
    return Rect(dest.x + (dest.w - w) // 2, dest.y + (dest.h - h) // 2, w, h)


def centred(img_w: int, img_h: int, dest: Rect) -> tuple[int, int]:
    """Top-left to centre an image of (img_w, img_h) in dest (may be negative: it overflows)."""
    return dest.x + (dest.w - img_w) // 2, dest.y + (dest.h - img_h) // 2
