"""The real screen through pygame (SDL2): fullscreen, no mouse pointer.

Video driver: SDL_VIDEODRIVER when set; `dummy` when headless; otherwise `kmsdrm` on a
console without X11/Wayland (a Raspberry Pi kiosk), else SDL's default (a desktop window).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.app.devices.display.base import DisplayError, _pygame, _to_surface

if TYPE_CHECKING:
    from kiosk.app.service.config import DisplayConfig

log = logging.getLogger(__name__)


def choose_driver(headless: bool) -> str | None:
    if headless:
        return "dummy"
    if os.environ.get("SDL_VIDEODRIVER"):
        return os.environ["SDL_VIDEODRIVER"]
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return "kmsdrm"
    return None


class PygameDisplay:
    def __init__(self, config: DisplayConfig, *, headless: bool = False) -> None:
        driver = choose_driver(headless)
        if driver:
            os.environ["SDL_VIDEODRIVER"] = driver
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        pygame = _pygame()
        self._pg = pygame
        self.headless = headless
        try:
            pygame.display.init()
            pygame.font.init()
            flags = pygame.FULLSCREEN if config.fullscreen and not headless else 0
            self.screen = pygame.display.set_mode((config.width, config.height), flags)
        except pygame.error as exc:
            hint = ("the kiosk user needs the video and render groups and no desktop on that screen"
                    if driver == "kmsdrm" else "set SDL_VIDEODRIVER=dummy to run headless")
            raise DisplayError(f"cannot open the display with SDL driver {driver or 'default'} "
                               f"({exc}): {hint}") from exc
        pygame.display.set_caption("Move Mirror")
        pygame.mouse.set_visible(False)
        self.size: tuple[int, int] = self.screen.get_size()
        self.canvas = self.screen
        self.driver = pygame.display.get_driver()
        log.info("display %dx%d via SDL %s%s", *self.size, self.driver,
                 " (fullscreen)" if flags else "")

    def show(self, frame: Any) -> None:
        surface = _to_surface(self._pg, frame)
        if surface is not self.screen:
            if surface.get_size() != self.size:
                raise ValueError(f"frame size {surface.get_size()} is not the display size {self.size}")
            self.screen.blit(surface, (0, 0))
        self._pg.display.flip()

    def poll_quit(self) -> bool:
        pg = self._pg
        quit_ = False
        for event in pg.event.get():
            if event.type == pg.QUIT or (event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q)):
                quit_ = True
        return quit_

    def save(self, path: Path) -> None:
        self._pg.image.save(self.screen, str(path))

    def close(self) -> None:
        self._pg.display.quit()
