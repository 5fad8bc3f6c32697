"""Liveness of the kiosk's parts: each stage beats when it makes progress; the service pings the
systemd watchdog only while every stage's last beat is recent.

    camera   the capture thread heard from the camera (a frame, a failure, or it waits for demand)
    pose     the pose worker finished an estimate, or found no new frame to work on
    render   the render loop presented a frame

A hung model, a camera stuck inside capture or a stuck render loop each go quiet on their own,
while the others keep running; `stale(limit)` names them. A stage that waits on another
(the pose worker for a new frame, an on-demand camera for the worker) says so with
`waiting(stage)`: it does not count as stale until its next beat, the one it waits on does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger(__name__)


class Stage(StrEnum):
    CAMERA = "camera"
    POSE = "pose"
    RENDER = "render"


class Heartbeats:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[Stage, float] = {}
        self._waiting: set[Stage] = set()

    def start(self, *stages: Stage) -> None:
        """Watch these stages from now on (each counts as just beaten)."""
        now = self.clock()
        with self._lock:
            for stage in stages:
                self._last[stage] = now

    def beat(self, stage: Stage) -> None:
        now = self.clock()
        with self._lock:
            self._last[stage] = now
            self._waiting.discard(stage)

    def waiting(self, stage: Stage) -> None:
        """The stage waits for another one: not stale meanwhile (its next beat ends the wait)."""
        now = self.clock()
        with self._lock:
            self._last[stage] = now
            self._waiting.add(stage)

    def forget(self, stage: Stage) -> None:
        """No longer watch a stage (it has ended on purpose, e.g. a replay that does not loop)."""
        with self._lock:
            self._last.pop(stage, None)

    def ages(self) -> dict[Stage, float]:
        now = self.clock()
        with self._lock:
            return {stage: now - t for stage, t in self._last.items()}

    def stale(self, limit: float) -> dict[Stage, float]:
        """Stages whose last beat is more than `limit` seconds old (and not waiting), with their age."""
        with self._lock:
            waiting = set(self._waiting)
        return {stage: age for stage, age in self.ages().items() if age > limit and stage not in waiting}
