"""Recent frame rate and per-stage timings (a sliding window of frames)."""

from __future__ import annotations

import time
from collections import deque

import numpy as np


class StageStats:
    def __init__(self, window: int = 120) -> None:
        self.window = window
        self._stages: dict[str, deque[float]] = {}
        self._ends: deque[float] = deque(maxlen=window)

    def add(self, timings: dict[str, float], end: float | None = None) -> None:
        for name, ms in timings.items():
            q = self._stages.get(name)
            if q is None:
                q = self._stages[name] = deque(maxlen=self.window)
            q.append(float(ms))
        self._ends.append(time.monotonic() if end is None else end)

    @property
    def fps(self) -> float:
        if len(self._ends) < 2:
            return 0.0
        span = self._ends[-1] - self._ends[0]
        return (len(self._ends) - 1) / span if span > 0 else 0.0

    def percentile(self, q: float) -> dict[str, float]:
        return {k: float(np.percentile(np.fromiter(v, float), q)) for k, v in self._stages.items() if v}

    def reset(self) -> None:
        self._stages.clear()
        self._ends.clear()
