"""Attract mode: a slideshow of the gallery while nobody is in front of the camera."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


class Slideshow:
    """Entries in a shuffled order, one every `slide_seconds`; a slide only advances once the
    next photo is loaded (`ready`), so the show never waits on the disk."""

    def __init__(self, size: int, slide_seconds: float, seed: int = 0) -> None:
        self.slide_seconds = float(slide_seconds)
        self._rng = np.random.default_rng(seed)
        self.reset(size)

    def reset(self, size: int) -> None:
        self.size = int(size)
        self._order = self._rng.permutation(self.size) if self.size else np.zeros(0, dtype=np.int64)
        self._pos = 0
        self._since: float | None = None

    def stop(self) -> None:
        """The visitor is back: the next show starts with a fresh slide."""
        if self._since is not None:
            self._pos = (self._pos + 1) % max(self.size, 1)
        self._since = None

    @property
    def current(self) -> int | None:
        return int(self._order[self._pos]) if self.size else None

    @property
    def next(self) -> int | None:
        return int(self._order[(self._pos + 1) % self.size]) if self.size else None

    def tick(self, now: float, next_ready: bool) -> int | None:
        """The entry to show at time `now` (None: an empty gallery)."""
        if not self.size:
            return None
        if self._since is None:
            self._since = now
        elif now - self._since >= self.slide_seconds and next_ready:
            self._pos = (self._pos + 1) % self.size
            self._since = now
        return self.current
