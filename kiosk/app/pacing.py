"""The render loop's pace: at most display.max_fps frames a second (0: as fast as it goes)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Pacer:
    """Sleeps so that successive `wait()` calls are at least 1 / max_fps apart (no catching up:
    a late frame starts the next interval from now)."""

    def __init__(self, max_fps: float, *, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.max_fps = float(max_fps)
        self.clock = clock
        self.sleep = sleep
        self._last = 0.0

    def wait(self) -> None:
        now = self.clock()
        if self.max_fps > 0 and self._last:
            wait = 1.0 / self.max_fps - (now - self._last)
            if wait > 0:
                self.sleep(wait)
                now = self.clock()
        self._last = now
