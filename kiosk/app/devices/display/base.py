"""The screen: one small interface, a pygame adapter (pygame_display.py) and a memory twin.

    show(frame)   frame: (H, W, 3) uint8 RGB array or a pygame.Surface of the display's size
    poll_quit()   True when the window was closed or Esc pressed
    save(path)    the last frame shown, as PNG
    close()

`canvas` is a pygame.Surface of the display's size that the renderer draws into directly
(then `show(display.canvas)` costs no copy), or None.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from kiosk.app.service.config import DisplayConfig

log = logging.getLogger(__name__)


class DisplayError(RuntimeError):
    """The display cannot be opened; the message says what to do."""


@runtime_checkable
class Display(Protocol):
    """size: (width, height); canvas: a pygame.Surface of that size the renderer may draw into
    directly (None: the renderer draws into its own surface and show() copies it)."""

    size: tuple[int, int]
    canvas: Any

    def show(self, frame: Any) -> None: ...

    def poll_quit(self) -> bool: ...

    def save(self, path: Path) -> None: ...

    def close(self) -> None: ...


def _pygame() -> Any:
    try:
        import pygame
    except ImportError as exc:
        raise DisplayError("the kiosk display needs pygame: pip install '.[display]' "
                           "(on Raspberry Pi OS: sudo apt install python3-pygame)") from exc
    return pygame


def _to_surface(pygame: Any, frame: Any) -> Any:
    if isinstance(frame, pygame.Surface):
        return frame
    a = np.ascontiguousarray(frame, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"a frame must be (H, W, 3) uint8 RGB, got {a.shape}")
    return pygame.image.frombuffer(a, (a.shape[1], a.shape[0]), "RGB")


def surface_to_array(surface: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB copy of a pygame surface."""
    import pygame

    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


class MemoryDisplay:
    """A display that only keeps the last composed frame (tests, headless runs)."""

    def __init__(self, size: tuple[int, int] = (1920, 1080)) -> None:
        pygame = _pygame()
        if not pygame.font.get_init():
            pygame.font.init()
        self._pg = pygame
        self.size = (int(size[0]), int(size[1]))
        self.canvas = pygame.Surface(self.size)
        self.shown = 0
        self._last: Any = None
        self.quit_requested = False

    def show(self, frame: Any) -> None:
        surface = _to_surface(self._pg, frame)
        if surface.get_size() != self.size:
            raise ValueError(f"frame size {surface.get_size()} is not the display size {self.size}")
        if surface is not self.canvas:
            self.canvas.blit(surface, (0, 0))
        self._last = self.canvas
        self.shown += 1

    @property
    def last_frame(self) -> np.ndarray | None:
        """The last frame shown, (H, W, 3) uint8 RGB (None before the first)."""
        return None if self._last is None else surface_to_array(self._last)

    def poll_quit(self) -> bool:
        return self.quit_requested

    def save(self, path: Path) -> None:
        self._pg.image.save(self.canvas, str(path))

    def close(self) -> None:
        self._last = None


def open_display(config: DisplayConfig, *, headless: bool | None = None) -> Display:
    """The pygame display; headless (SDL's dummy driver, nothing on screen) when asked, or when
    headless is None and SDL_VIDEODRIVER=dummy. Raises DisplayError saying what to fix."""
    if headless is None:
        headless = os.environ.get("SDL_VIDEODRIVER", "") == "dummy"
    from kiosk.app.devices.display.pygame_display import PygameDisplay

    return PygameDisplay(config, headless=headless)
