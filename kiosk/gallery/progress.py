"""A tiny progress bar on stderr (redrawn in place on a terminal, a line per 10% otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str = "", stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.frames = 0
        self.t0 = time.monotonic()
        self._last_decile = -1
        self._last_draw = 0.0

    def update(self, n: int = 1, frames: int = 0) -> None:
        self.done += n
        self.frames += frames
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw > 0.1 or self.done >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self.line(now))
                self.stream.flush()
        else:
            decile = (10 * self.done) // self.total if self.total else 10
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(self.line(now) + "\n")
                self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.t0, 1e-9)
        frac = self.done / self.total if self.total else 1.0
        width = 30
        filled = round(frac * width)
        bar = "#" * filled + "." * (width - filled)
        return (
            f"{self.label} [{bar}] {self.done}/{self.total} sources, {self.frames} frames,"
            f" {self.frames / elapsed:.1f} frames/s"
        )

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
