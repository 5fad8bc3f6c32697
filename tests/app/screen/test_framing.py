"""The live view's window: the visitor whole, for any camera and slot shape, moving calmly."""

from __future__ import annotations

import pytest

from kiosk.app.screen.framing import REACH_S, Framer, Reach, body_window, cover_window
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
    held = framer.view(720, 1280, slot, None, t=REACH_S / 2)  # a pose missing for a moment
    assert held.crop == cmap.crop
    gone = [framer.view(720, 1280, slot, None, t=REACH_S + 0.1) for _ in range(3)]  # nobody since
    assert gone[0].crop != gone[2].crop  # back to the cover crop, gradually


def test_the_view_holds_where_the_visitor_has_just_been() -> None:
    """A visitor rising from a squat: the newest pose (older than the frame shown) is still low,
    the view keeps the standing head of a second ago; after REACH_S only the squat counts."""
    framer = Framer()
    slot = Rect(0, 0, 960, 1080)
    standing, squat = (260.0, 100.0, 460.0, 1250.0), (240.0, 500.0, 480.0, 1250.0)
    framer.view(720, 1280, slot, standing, t=10.0)
    cmap = framer.view(720, 1280, slot, squat, t=11.0)
    assert _inside(cmap, 300, 100)  # the standing head
    for _ in range(40):  # out of reach: the view glides to the squat alone
        later = framer.view(720, 1280, slot, squat, t=10.0 + REACH_S + 0.5)
    assert later.crop.y > 100 and _inside(later, 240, 500) and _inside(later, 480, 1250)


@pytest.mark.parametrize(("boxes", "expected"), [
    ([(0.0, (1, 2, 3, 4)), (0.5, (0, 3, 2, 6))], (0, 2, 3, 6)),  # the union of the last REACH_S s
    ([(0.0, (1, 2, 3, 4)), (REACH_S + 1, (0, 3, 2, 6))], (0, 3, 2, 6)),  # the old one out of reach
    ([(5.0, (1, 2, 3, 4)), (1.0, (0, 3, 2, 6))], (0, 3, 2, 6)),  # time went back: start again
    ([(1.0, (1, 2, 3, 4)), (1.0, (0, 3, 2, 6))], (0, 3, 2, 6)),  # the same frame: the newer pose
])
def test_reach(boxes: list[tuple[float, tuple[float, ...]]], expected: tuple[float, ...]) -> None:
    reach = Reach()
    for t, box in boxes:
        out = reach.update(box, t)  # type: ignore[arg-type]
    assert out == expected
