"""The pygame display adapter (SDL's dummy driver) and the memory twin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest
from PIL import Image

from kiosk.app.devices.display.base import MemoryDisplay, open_display
from kiosk.app.devices.display.pygame_display import choose_driver
from kiosk.app.service.config import DisplayConfig


@pytest.fixture()
def display():
    d = open_display(DisplayConfig(width=320, height=240), headless=True)
    yield d
    d.close()


def test_headless_display_shows_arrays_and_saves(display, tmp_path: Path) -> None:
    assert display.size == (320, 240)
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:, :160] = (250, 10, 20)
    display.show(frame)
    display.save(tmp_path / "s.png")
    img = np.asarray(Image.open(tmp_path / "s.png").convert("RGB"))
    assert tuple(img[100, 10]) == (250, 10, 20) and tuple(img[100, 300]) == (0, 0, 0)
    with pytest.raises(ValueError, match="not the display size"):
        display.show(np.zeros((10, 10, 3), np.uint8))


def test_window_close_and_escape_are_quit(display) -> None:
    assert display.poll_quit() is False
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert display.poll_quit() is True
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
    assert display.poll_quit() is True
    assert display.poll_quit() is False


def test_driver_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_driver(headless=True) == "dummy"
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert choose_driver(headless=False) == "kmsdrm"  # a console: the Pi kiosk
    monkeypatch.setenv("DISPLAY", ":0")
    assert choose_driver(headless=False) is None  # a desktop: SDL's default, a window


def test_memory_display_keeps_the_last_frame() -> None:
    d = MemoryDisplay((64, 48))
    assert d.last_frame is None
    d.show(np.full((48, 64, 3), 7, np.uint8))
    assert d.last_frame.shape == (48, 64, 3) and (d.last_frame == 7).all() and d.shown == 1
