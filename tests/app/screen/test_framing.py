"""The live view's window: the visitor whole, for any camera and slot shape, moving calmly."""

from __future__ import annotations

import pytest

from kiosk.app.screen.framing import Framer, body_window, cover_window
from kiosk.app.screen.layout import CoverMap, Rect


def _inside(cmap: CoverMap, x: float, y: float) -> bool:
    px, py = cmap.point(x, y)
    d = cmap.dest
    return d.x <= px <= d.x + d.w and d.y <= py <= d.y + d.h


@pytest.mark.parametrize("frame, slot, body", [
    ((720, 1280), Rect(0, 0, 960, 1080), (260, 60, 460, 1250)),  # portrait camera, landscape slot
    ((1280, 720), Rect(0, 0, 1080, 960), (500, 10, 700, 710)),  # landscape camera, portrait slot
    ((1920, 1080), Rect(0, 0, 960, 1080), (100, 100, 400, 1000)),  # visitor off centre
    ((720, 1280), Rect(960, 540, 480, 270), (300, 100, 420, 1200)),  # an inset, wide
])
def test_the_body_is_inside_the_view(frame: tuple[int, int], slot: Rect, body: tuple[float, ...]) -> None:
    cmap = Framer().view(*frame, slot, body)  # type: ignore[arg-type]
    assert _inside(cmap, body[0], body[1]) and _inside(cmap, body[2], body[3])
    d = cmap.dest
    assert slot.x <= d.x and d.x + d.w <= slot.x + slot.w and slot.y <= d.y and d.y + d.h <= slot.y + slot.h


def test_nobody_means_the_cover_crop_and_the_window_is_never_smaller() -> None:
    base = cover_window(720, 1280, 960 / 1080)
    assert base.w == 720 and abs(base.h - 810) < 1e-6
    small = body_window(720, 1280, 960 / 1080, (350, 600, 370, 640))  # a small, far visitor: no zoom
    assert small.w >= base.w - 1e-6


def test_the_window_glides_and_keeps_the_visitor_inside_while_it_moves() -> None:
    framer = Framer()
    slot = Rect(0, 0, 960, 1080)
    body = (260.0, 60.0, 460.0, 1250.0)
    framer.view(720, 1280, slot, None)  # the cover crop: head and feet cut
    first = framer.view(720, 1280, slot, body)  # jumps to hold the body
    assert _inside(first, 260, 60) and _inside(first, 460, 1250)
    for _ in range(20):
        cmap = framer.view(720, 1280, slot, body)
        assert _inside(cmap, 260, 60) and _inside(cmap, 460, 1250)
    gone = [framer.view(720, 1280, slot, None) for _ in range(3)]
    assert gone[0].crop != gone[2].crop  # back to the cover crop, gradually
