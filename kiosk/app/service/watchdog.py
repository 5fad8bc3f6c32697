"""The systemd watchdog, pinged only while the kiosk is alive in every part.

`ping()` is called after each displayed frame; it sends WATCHDOG=1 every half interval, and only
while no stage of the loop (camera, pose worker, render) has gone a whole interval without
progress (`stale_stages(limit)`). A hung model or camera thus stops the pings although the
render loop, which calls ping(), still runs; a hung render loop never calls it. `stalled` names
the quiet stages (the service puts them in the status file).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.app.service.sdnotify import Notifier

log = logging.getLogger(__name__)

StaleStages = Callable[[float], Mapping[Any, float]]


class Watchdog:
    def __init__(self, notifier: Notifier, interval: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.notifier = notifier
        self.interval = interval  # seconds between pings systemd expects (None: no watchdog)
        self.clock = clock
        self.stalled: list[str] = []
        self._last = 0.0

    def ping(self, stale_stages: StaleStages | None, *, force: bool = False) -> str | None:
        """Ping if due (or forced) and every stage is alive. Returns a message when the set of
        stalled stages changes to a non-empty one (for the status's last_error)."""
        if self.interval is None:
            return None
        now = self.clock()
        if not force and now - self._last < self.interval / 2:
            return None
        message = None
        if not force:
            stale = stale_stages(self.interval) if stale_stages is not None else {}
            names = sorted(str(s) for s in stale)
            if names != self.stalled:
                self.stalled = names
                if names:
                    ages = ", ".join(f"{s} for {age:.1f} s" for s, age in sorted(stale.items()))
                    message = (f"no progress from {ages}: not pinging the watchdog, so systemd restarts "
                               "the kiosk (journalctl -u move-mirror shows what hung)")
                    log.error("%s", message)
                else:
                    log.info("all stages make progress again: pinging the watchdog")
            if names:
                return message
        self.notifier.watchdog()
        self._last = now
        return message
