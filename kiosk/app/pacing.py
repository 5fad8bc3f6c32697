"""The render loop's pace: at most display.max_fps frames a second (0: as fast as it goes).

`wake()` (from another thread: the pose worker with a new target) ends the current wait early,
so the frame that presents the new photo is composed at once instead of at the next frame slot;
the schedule then starts again from that moment (no frame follows it sooner than a step).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Pacer:
    """`wait()` returns on a fixed schedule of 1 / max_fps steps: a sleep that wakes a little late
    is made up on the next frame (so the rate holds on a busy machine), but a frame more than a
    whole step late starts the schedule again from now (no burst to catch up).

    sleep(seconds) -> bool waits for at most `seconds` and says whether wake() ended it (by
    default the wake event's own wait; tests pass a fake clock's)."""

    def __init__(self, max_fps: float, *, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], bool | None] | None = None) -> None:
        self.max_fps = float(max_fps)
        self.clock = clock
        self._woken = threading.Event()
        self.sleep = sleep if sleep is not None else self._woken.wait
        self._due: float | None = None
        self.woken = 0  # waits ended early by wake()

    def wake(self) -> None:
        """End the current (or the next) wait at once; thread-safe."""
        self._woken.set()

    @property
    def pending(self) -> bool:
        """A wake() not yet consumed by a wait."""
        return self._woken.is_set()

    def wait(self) -> bool:
        """Wait for the next frame slot; True when wake() ended the wait early."""
        now = self.clock()
        if self.max_fps <= 0:
            self._woken.clear()
            return False
        step = 1.0 / self.max_fps
        if self._due is None or now - self._due > step:
            self._due = now + step
            self._woken.clear()
            return False
        woken = self._woken.is_set()
        if not woken and self._due > now:
            woken = bool(self.sleep(self._due - now))
        self._woken.clear()  # a wake after this is seen by the frame that follows anyway
        if woken:
            self.woken += 1
            self._due = self.clock() + step
            return True
        self._due += step
        return False
