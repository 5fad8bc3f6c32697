"""Layouts, rotation, the camera blit, cards, crossfade: pixels checked on a memory display."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from kiosk.app.devices.display.base import MemoryDisplay, surface_to_array
from kiosk.app.screen.blit import CameraBlitter
from kiosk.app.screen.layout import Rect, cover, fit, make_layout
from kiosk.app.screen.render import SKELETON_RGB, Renderer, Scene
from kiosk.app.service.config import DisplayConfig
from tests.app.kiosk_fakes import STAND, pose_at

PHOTO_RGB = (200, 40, 60)
CAMERA_RGB = (20, 60, 220)


def _photo(size: tuple[int, int]) -> pygame.Surface:
    s = pygame.Surface(size)
    s.fill(PHOTO_RGB)
    return s


def _render(config: DisplayConfig, frame: np.ndarray, *, screen=(1920, 1080), **scene) -> np.ndarray:
    disp = MemoryDisplay(screen)
    r = Renderer(config, disp.size, target=disp.canvas)
    photo = _photo(r.photo_slot)
    disp.show(r.render(Scene(frame=frame, content=("photo", 1), photo=photo, **scene)))
    return disp.last_frame


def test_side_by_side_geometry() -> None:
    lay = make_layout(DisplayConfig(), (1920, 1080))
    assert lay.camera == Rect(0, 0, 960, 1080) and lay.photo == Rect(960, 0, 960, 1080)
    portrait = make_layout(DisplayConfig(rotation=90), (1920, 1080))
    assert portrait.canvas == (1080, 1920)
    assert portrait.camera == Rect(0, 0, 1080, 960) and portrait.photo == Rect(0, 960, 1080, 960)


def test_full_mirror_geometry() -> None:
    lay = make_layout(DisplayConfig(layout="full_mirror", inset_fraction=0.25), (1920, 1080), (1280, 720))
    assert lay.photo == Rect(0, 0, 1920, 1080) and lay.inset
    assert lay.camera.w == 480 and lay.camera.h == 270  # the camera's aspect
    assert lay.camera.x + lay.camera.w < 1920 and lay.camera.y + lay.camera.h < 1080  # bottom right


def test_cover_and_fit() -> None:
    m = cover(1920, 1080, Rect(0, 0, 960, 1080))
    assert m.crop == Rect(480, 0, 960, 1080) and m.scale == 1.0
    m = cover(720, 1280, Rect(0, 0, 960, 1080))
    assert m.crop.w == 720 and m.crop.h == 810 and m.scale == pytest.approx(960 / 720)
    assert fit(960, 1080, Rect(0, 0, 1920, 1080)) == Rect(480, 0, 960, 1080)


def test_side_by_side_pixels() -> None:
    frame = np.zeros((1280, 720, 3), np.uint8)
    frame[:] = CAMERA_RGB
    out = _render(DisplayConfig(caption=False), frame)
    assert out.shape == (1080, 1920, 3)
    assert tuple(out[540, 480]) == CAMERA_RGB
    assert tuple(out[540, 1440]) == PHOTO_RGB
    assert tuple(out[1000, 1900]) == PHOTO_RGB


@pytest.mark.parametrize(("rotation", "camera_side"), [(90, "right"), (270, "left")])
def test_portrait_rotation(rotation: int, camera_side: str) -> None:
    """Camera on top of the portrait canvas; turned clockwise it lands on the right (90)."""
    frame = np.zeros((1280, 720, 3), np.uint8)
    frame[:] = CAMERA_RGB
    out = _render(DisplayConfig(rotation=rotation, caption=False), frame)
    assert out.shape == (1080, 1920, 3)
    left, right = tuple(out[540, 480]), tuple(out[540, 1440])
    assert (right, left) == ((CAMERA_RGB, PHOTO_RGB) if camera_side == "right" else (PHOTO_RGB, CAMERA_RGB))


def test_full_mirror_pixels() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:] = CAMERA_RGB
    out = _render(DisplayConfig(layout="full_mirror", caption=False), frame)
    assert tuple(out[100, 100]) == PHOTO_RGB  # the photo fills the screen
    assert tuple(out[1080 - 60, 1920 - 100]) == CAMERA_RGB  # the inset, bottom right


def test_mirror_flips_the_camera_image() -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[:, :960] = (255, 0, 0)
    frame[:, 960:] = (0, 255, 0)
    plain = _render(DisplayConfig(), frame, mirror=False)
    mirrored = _render(DisplayConfig(), frame, mirror=True)
    assert tuple(plain[540, 100]) == (255, 0, 0) and tuple(plain[540, 900]) == (0, 255, 0)
    assert tuple(mirrored[540, 100]) == (0, 255, 0) and tuple(mirrored[540, 900]) == (255, 0, 0)


@pytest.mark.parametrize("mirror", [False, True])
def test_numba_and_sdl_camera_paths_agree(mirror: bool) -> None:
    yy, xx = np.mgrid[0:300, 0:200]
    frame = np.stack([xx, yy // 2, (xx + yy) // 2], axis=2).astype(np.uint8)  # smooth gradients
    cmap = cover(200, 300, Rect(10, 20, 160, 120))
    a, b = pygame.Surface((200, 200)), pygame.Surface((200, 200))
    fast, sdl = CameraBlitter(), CameraBlitter()
    sdl.fast = False
    fast.blit(a, frame, cmap, mirror)
    sdl.blit(b, frame, cmap, mirror)
    fa, fb = surface_to_array(a).astype(int), surface_to_array(b).astype(int)
    assert np.abs(fa - fb).max() <= 2  # the same picture up to a one-pixel sampling offset
    red = fa[80, 10:170, 0]  # one row of the slot: x runs left to right, or right to left mirrored
    assert (np.diff(red) <= 0).all() if mirror else (np.diff(red) >= 0).all()


def test_skeleton_is_drawn_on_the_camera_side() -> None:
    frame = np.zeros((1280, 720, 3), np.uint8)
    out = _render(DisplayConfig(), frame, pose=pose_at(STAND), mirror=False)
    cmap = cover(720, 1280, Rect(0, 0, 960, 1080))
    # the middle of the hip line (keypoints 11-12)
    x, y = cmap.point(*(STAND[11] + STAND[12]) / 2)
    assert tuple(out[y, x]) == SKELETON_RGB


def test_crossfade_blends_then_settles() -> None:
    disp = MemoryDisplay((640, 360))
    r = Renderer(DisplayConfig(crossfade_ms=200, caption=False), disp.size, target=disp.canvas)
    frame = np.zeros((360, 640, 3), np.uint8)
    a, b = _photo(r.photo_slot), pygame.Surface(r.photo_slot)
    b.fill((0, 200, 0))
    disp.show(r.render(Scene(frame=frame, content=("photo", 1), photo=a, now=10.0)))
    disp.show(r.render(Scene(frame=frame, content=("photo", 2), photo=b, now=10.0)))
    assert r.fading
    first = tuple(int(v) for v in disp.last_frame[180, 480])
    assert first != PHOTO_RGB and first[1] > PHOTO_RGB[1]  # the switch frame shows the new photo coming
    # half way: the fade counts its first frame as one display frame (1/60 s) in
    disp.show(r.render(Scene(frame=frame, content=("photo", 2), photo=b, now=10.1 - 1 / 60)))
    mid = tuple(int(v) for v in disp.last_frame[180, 480])
    assert 80 < mid[0] < 120 and 80 < mid[1] < 120
    disp.show(r.render(Scene(frame=frame, content=("photo", 2), photo=b, now=10.3)))
    assert not r.fading and tuple(disp.last_frame[180, 480]) == (0, 200, 0)


def test_the_debug_overlay_names_a_fade_on_the_frames_that_show_one() -> None:
    disp = MemoryDisplay((640, 360))
    r = Renderer(DisplayConfig(crossfade_ms=200, caption=False, debug_overlay=True), disp.size,
                 target=disp.canvas)
    frame = np.zeros((360, 640, 3), np.uint8)
    a, b = _photo(r.photo_slot), _photo(r.photo_slot)
    told: list[bool] = []

    def lines(fading: bool) -> list[str]:
        told.append(fading)
        return ["fading" if fading else "steady"]

    for content, photo, now in ((1, a, 10.0), (2, b, 10.0), (2, b, 10.1), (2, b, 10.3)):
        r.render(Scene(frame=frame, content=("photo", content), photo=photo, now=now, debug=lines))
    # the first photo; the switch frame and the next show the fade; the frame after it has ended
    assert told == [False, True, True, False]


def test_caption_and_panels() -> None:
    disp = MemoryDisplay((1280, 720))
    r = Renderer(DisplayConfig(crossfade_ms=0), disp.size, target=disp.canvas)
    frame = np.zeros((720, 1280, 3), np.uint8)
    photo = _photo(r.photo_slot)
    scene = Scene(frame=frame, content=("photo", 1), photo=photo, caption=("A title", "Credit " * 40))
    disp.show(r.render(scene))
    out = disp.last_frame
    assert tuple(out[100, 960]) == PHOTO_RGB
    assert tuple(out[715, 1270]) != PHOTO_RGB  # the caption band darkens the bottom
    disp.show(r.render(Scene(frame=frame, content=("panel", "no_match"))))
    panel = disp.last_frame[:, 640:]
    assert (panel == PHOTO_RGB).all(axis=2).sum() == 0 and panel.max() == 255  # dark panel, white text


def test_full_mirror_repairs_what_banners_covered() -> None:
    disp = MemoryDisplay((1280, 720))
    r = Renderer(DisplayConfig(layout="full_mirror", caption=False, crossfade_ms=0), disp.size,
                 target=disp.canvas)
    frame = np.zeros((720, 1280, 3), np.uint8)
    photo = _photo(r.photo_slot)
    disp.show(r.render(Scene(frame=frame, content=("photo", 1), photo=photo, step_back=True)))
    top = disp.last_frame[10:60, 640]
    assert (top != PHOTO_RGB).any()  # the banner is over the photo
    disp.show(r.render(Scene(frame=frame, content=("photo", 1), photo=photo, step_back=False)))
    assert (disp.last_frame[10:60, 640] == PHOTO_RGB).all()  # and gone again


def test_the_photo_half_is_composed_once_per_switch_not_per_frame() -> None:
    disp = MemoryDisplay((640, 360))
    r = Renderer(DisplayConfig(crossfade_ms=0, caption=False), disp.size, target=disp.canvas)
    photo = _photo(r.photo_slot)
    frames = [np.full((360, 640, 3), v, np.uint8) for v in (10, 90, 170)]
    disp.show(r.render(Scene(frame=frames[0], content=("photo", 1), photo=photo)))
    pygame.draw.rect(disp.canvas, (0, 255, 0), (400, 100, 8, 8))  # a mark on the photo half
    disp.show(r.render(Scene(frame=frames[1], content=("photo", 1), photo=photo)))
    out = disp.last_frame
    assert tuple(out[104, 404]) == (0, 255, 0)  # not redrawn: only the live half was
    assert tuple(out[180, 160]) == (90, 90, 90)  # ...which shows the new camera frame
    disp.show(r.render(Scene(frame=frames[2], content=("photo", 2), photo=photo)))
    assert tuple(disp.last_frame[104, 404]) == PHOTO_RGB  # a new content: the card is blitted again
