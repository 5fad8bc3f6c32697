"""The render loop's pace: at most display.max_fps frames a second (0: as fast as it goes)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Pacer:
    """`wait()` returns on a fixed schedule of 1 / max_fps steps: a sleep that wakes a little late
    is made up on the next frame (so the rate holds on a busy machine), but a frame more than a
    whole step late starts the schedule again from now (no burst to catch up)."""

    def __init__(self, max_fps: float, *, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.max_fps = float(max_fps)
        self.clock = clock
        self.sleep = sleep
        self._due: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.max_fps <= 0:
            return
        step = 1.0 / self.max_fps
        if self._due is None or now - self._due > step:
            self._due = now + step
            return
        if self._due > now:
            self.sleep(self._due - now)
        self._due += step
