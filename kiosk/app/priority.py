"""The render loop could yield the CPU to the pose model: its thread at a higher nice value.

Off by default (RENDER_NICE = 0): measured on the shared 2-core machine (docs/mirror.md,
"Benchmark"), nice +5 on the render thread cost the display 7-19 fps under load without a
steady gain in pose rate (a render thread descheduled while it holds the GIL would also stall
the worker's Python between invokes: a likely priority inversion, not proven). Kept for
measuring (`kiosk bench loop --render-nice N`). The design it implements:

On a CPU-only kiosk the pose model is the bottleneck and the screen the cheap part: when the
cores are busy (a Pi running the model on all of them, or a shared machine), the scheduler
should give the model the CPU first; the display then still presents its 60 frames a second
from what is left (a composition costs a few ms). Linux keeps a nice value per thread
(setpriority(PRIO_PROCESS, tid) changes one thread only), so the render thread raises its own
nice by RENDER_NICE at its first frame and goes back on close; the pose worker, the grabber and
the photo loader, started before, keep the process's. Raising a nice value needs no privilege;
lowering it back does (CAP_SYS_NICE) unless RLIMIT_NICE allows it, so `restore` may fail: it
logs and leaves the thread as it is (the kiosk exits after close anyway).

Elsewhere than Linux nothing is changed (nice is per process there).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: How much nicer than the pose worker the render thread runs (0: the same priority; see above).
RENDER_NICE = 0


class ThreadNice:
    """Raise the calling thread's nice value by `increment` (`lower()`), and restore it."""

    def __init__(self, increment: int, *, platform: str = sys.platform,
                 getpriority: Callable[[int, int], int] | None = None,
                 setpriority: Callable[[int, int, int], None] | None = None,
                 native_id: Callable[[], int] = threading.get_native_id) -> None:
        self.increment = int(increment)
        self.supported = platform.startswith("linux") and hasattr(os, "setpriority")
        self._get = getpriority or getattr(os, "getpriority", None)
        self._set = setpriority or getattr(os, "setpriority", None)
        self._native_id = native_id
        self.applied: tuple[int, int] | None = None  # (thread id, its nice value before)

    def lower(self) -> bool:
        """In the thread to make nicer; True when its priority was lowered (once)."""
        if self.applied is not None or self.increment <= 0 or not self.supported:
            return False
        assert self._get is not None and self._set is not None
        tid = self._native_id()
        try:
            before = self._get(os.PRIO_PROCESS, tid)
            self._set(os.PRIO_PROCESS, tid, before + self.increment)
        except OSError as exc:
            log.warning("cannot lower the render thread's priority (%s): it shares the CPU with the "
                        "pose model as equals", exc)
            return False
        self.applied = (tid, before)
        log.info("render thread: nice %d -> %d (the pose model comes first)", before, before + self.increment)
        return True

    def restore(self) -> None:
        if self.applied is None:
            return
        tid, before = self.applied
        self.applied = None
        assert self._set is not None
        try:
            self._set(os.PRIO_PROCESS, tid, before)
        except OSError as exc:  # lowering a nice value needs CAP_SYS_NICE (or RLIMIT_NICE)
            log.info("the render thread keeps its lower priority (%s)", exc)
