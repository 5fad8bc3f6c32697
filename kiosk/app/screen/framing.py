"""Which part of the camera image the live view shows: the visitor whole, calmly.

The view is a window of the slot's aspect over the image as shown (mirrored if so). With nobody
there it is the centred "cover" window (the slot filled, the overflow cropped). With a visitor it
is moved, and grown when needed, so that their body (the box of their confident keypoints plus
a margin) is inside: a portrait camera in a landscape slot, or the reverse, shows the whole
person rather than a centre crop that cuts off the head or the feet. Where a grown window
goes past the image's edges the slot shows a calm plain background instead.

Calm: the window only jumps when the visitor would leave it; otherwise it glides towards its
target (a fixed fraction of the way per displayed frame), and a window that contains the body
glides through windows that contain it too (a blend of two windows that both contain a box
contains it), so the visitor never leaves the view while it moves.

Reach: the box the window holds is the union of the visitor's boxes over the last REACH_S
seconds of camera time, not only the newest. The pose the box comes from is older than the
frame on screen (by the model's time), so a visitor rising from a squat would otherwise lead the
view with their head; the view holds where they have just been, and a pose missing for a moment
does not send it back to the centre.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from kiosk.app.screen.layout import CoverMap, Rect

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels

#: Margin around the body, as a fraction of its height (the head's top is above the eyes).
MARGIN = 0.12
#: Fraction of the way to the target window taken per displayed frame.
GLIDE = 0.15
#: Seconds of camera time whose body boxes the view holds (see Reach above).
REACH_S = 2.0


@dataclass(frozen=True)
class Window:
    x: float
    y: float
    w: float
    h: float

    def contains(self, box: Box) -> bool:
        return (self.x <= box[0] and self.y <= box[1] and box[2] <= self.x + self.w
                and box[3] <= self.y + self.h)

    def blend(self, other: Window, a: float) -> Window:
        return Window(self.x + (other.x - self.x) * a, self.y + (other.y - self.y) * a,
                      self.w + (other.w - self.w) * a, self.h + (other.h - self.h) * a)


def cover_window(frame_w: int, frame_h: int, aspect: float) -> Window:
    """The largest centred window of aspect (w / h) inside the image."""
    w = min(float(frame_w), frame_h * aspect)
    h = w / aspect
    return Window((frame_w - w) / 2, (frame_h - h) / 2, w, h)


def _place(lo: float, size: float, want_lo: float, want_hi: float, extent: float) -> float:
    """Start of a span of `size` containing [want_lo, want_hi], inside [0, extent] where it fits."""
    start = (want_lo + want_hi - size) / 2
    if size <= extent:
        start = min(max(start, 0.0), extent - size)
    else:
        start = (extent - size) / 2
    return min(max(start, want_hi - size), want_lo)


def body_window(frame_w: int, frame_h: int, aspect: float, box: Box) -> Window:
    """The smallest window of aspect, at least the cover window, holding box plus MARGIN (the box
    clipped to the image: what the camera does not see cannot be shown)."""
    box = (min(max(box[0], 0.0), frame_w), min(max(box[1], 0.0), frame_h),
           min(max(box[2], 0.0), frame_w), min(max(box[3], 0.0), frame_h))
    m = MARGIN * max(box[3] - box[1], 1.0)
    x0, y0, x1, y1 = box[0] - m, box[1] - m, box[2] + m, box[3] + m
    base = cover_window(frame_w, frame_h, aspect)
    w = max(base.w, x1 - x0, (y1 - y0) * aspect)
    h = w / aspect
    return Window(_place(x0, w, x0, x1, frame_w), _place(y0, h, y0, y1, frame_h), w, h)


def window_map(win: Window, frame_w: int, frame_h: int, slot: Rect) -> CoverMap:
    """The part of the window inside the image, and where it lands in the slot."""
    s = slot.w / win.w
    cx0, cy0 = max(win.x, 0.0), max(win.y, 0.0)
    cx1, cy1 = min(win.x + win.w, float(frame_w)), min(win.y + win.h, float(frame_h))
    x, y = min(round(cx0), frame_w - 1), min(round(cy0), frame_h - 1)
    crop = Rect(x, y, max(1, min(round(cx1 - cx0), frame_w - x)), max(1, min(round(cy1 - cy0), frame_h - y)))
    dx0 = slot.x + round((crop.x - win.x) * s)
    dy0 = slot.y + round((crop.y - win.y) * s)
    dw = min(max(1, round(crop.w * s)), slot.x + slot.w - dx0)
    dh = min(max(1, round(crop.h * s)), slot.y + slot.h - dy0)
    return CoverMap(crop, s, Rect(dx0, dy0, dw, dh))


def union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


class Reach:
    """The union of the body boxes of the last REACH_S seconds (camera time)."""

    def __init__(self, span_s: float = REACH_S) -> None:
        self.span_s = span_s
        self._boxes: deque[tuple[float, Box]] = deque()

    def clear(self) -> None:
        self._boxes.clear()

    def update(self, body: Box | None, t: float) -> Box | None:
        """Add the box seen at camera time t (None: nobody this frame); the union still in reach."""
        boxes = self._boxes
        if boxes and t < boxes[-1][0]:
            boxes.clear()  # time went back: a replay started again, or a new camera
        if body is not None:
            if boxes and boxes[-1][0] == t:
                boxes.pop()  # the same camera frame, a newer pose of it
            boxes.append((t, body))
        while boxes and boxes[0][0] < t - self.span_s:
            boxes.popleft()
        return union([b for _, b in boxes]) if boxes else None


class Framer:
    """The live view's window, frame after frame."""

    def __init__(self) -> None:
        self._win: Window | None = None
        self._for: tuple[int, int, Rect] | None = None
        self._reach = Reach()

    def view(self, frame_w: int, frame_h: int, slot: Rect, body: Box | None, t: float = 0.0) -> CoverMap:
        """The window for a frame at camera time t (s) whose visitor's box is body (None: nobody)."""
        aspect = slot.w / slot.h
        if self._for != (frame_w, frame_h, slot):
            self._for, self._win = (frame_w, frame_h, slot), None
            self._reach.clear()
        body = self._reach.update(body, t)
        target = (body_window(frame_w, frame_h, aspect, body) if body is not None
                  else cover_window(frame_w, frame_h, aspect))
        win = self._win
        if win is None:
            win = target
        elif body is not None and not win.contains(body):
            win = target  # the visitor would leave the view: follow at once
        else:
            win = win.blend(target, GLIDE)
        self._win = win
        return window_map(win, frame_w, frame_h, slot)
