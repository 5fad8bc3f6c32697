"""What to show: from the target (hysteresis), the visitor's presence and the clock to the
content of the photo half. Pure: no threads, no display, no disk.

    director = Director(idle_timeout_s=15, slide_seconds=5)
    director.reset(len(index))            # a new gallery (None: no index loaded)
    choice = director.decide(target, seen_at, now, shelf)

`seen_at` is the frame time a visitor was last seen (None: not seen in the frame judged), `now`
the newest camera frame's time (media time for a replay, so a replay paces like the recording).
`shelf` says which photos are loaded (`ready`) and asks for others (`request`): a photo is only
chosen once it is ready, so the screen never waits on the disk (the previous content stays).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from kiosk.app.mirror.attract import Slideshow
from kiosk.app.mirror.target import NO_MATCH, NOBODY, Target

log = logging.getLogger(__name__)


class MirrorState(StrEnum):
    RUNNING = "running"  # a matched photo is on screen
    NO_MATCH = "no_match"  # a visitor, no photo close enough
    IDLE = "idle"  # the attract slideshow
    SEARCHING = "searching"  # waiting for a visitor (or for an index, or the first photo)


class PhotoShelf(Protocol):
    def ready(self, entry: int) -> bool: ...

    def request(self, entry: int) -> None: ...


@dataclass(frozen=True)
class Choice:
    state: MirrorState
    content: Hashable  # ("photo", entry) or ("panel", name)
    entry: int | None  # the photo's entry id (None for a panel)


PROMPT = Choice(MirrorState.SEARCHING, ("panel", "prompt"), None)
NO_INDEX = Choice(MirrorState.SEARCHING, ("panel", "no_index"), None)
NO_GOOD_MATCH = Choice(MirrorState.NO_MATCH, ("panel", "no_match"), None)


class Director:
    def __init__(self, idle_timeout_s: float, slide_seconds: float, seed: int = 0) -> None:
        self.idle_timeout_s = float(idle_timeout_s)
        self.slides = Slideshow(0, slide_seconds, seed)
        self.has_index = False
        self.choice = PROMPT
        self._last_visitor: float | None = None

    def configure(self, idle_timeout_s: float, slide_seconds: float) -> None:
        self.idle_timeout_s = float(idle_timeout_s)
        self.slides.slide_seconds = float(slide_seconds)

    def reset(self, gallery_size: int | None) -> None:
        """A new gallery of gallery_size entries (None: no index): nothing of the old one is shown."""
        self.has_index = gallery_size is not None
        self.slides.reset(gallery_size or 0)
        self.choice = PROMPT if self.has_index else NO_INDEX

    def decide(self, target: Target, seen_at: float | None, now: float, shelf: PhotoShelf) -> Choice:
        if self._last_visitor is None:
            self._last_visitor = now
        if seen_at is not None:
            self._last_visitor = max(self._last_visitor, seen_at)
            self.slides.stop()
        self.choice = self._decide(target, now, shelf)
        return self.choice

    def _decide(self, target: Target, now: float, shelf: PhotoShelf) -> Choice:
        if not self.has_index:
            return NO_INDEX
        assert self._last_visitor is not None
        if target == NOBODY and now - self._last_visitor >= self.idle_timeout_s:
            return self._attract(now, shelf)
        if target.entry is not None:
            photo = self._photo(target.entry, MirrorState.RUNNING, shelf)
            if photo is not None:
                return photo
            shelf.request(target.entry)
            keep = self.choice  # the previous content stays until the photo is loaded
            return keep if keep.state is MirrorState.RUNNING else PROMPT
        return NO_GOOD_MATCH if target == NO_MATCH else PROMPT

    def _attract(self, now: float, shelf: PhotoShelf) -> Choice:
        nxt = self.slides.next
        slide = self.slides.tick(now, nxt is not None and shelf.ready(nxt))
        if slide is not None:
            photo = self._photo(slide, MirrorState.IDLE, shelf)
            if photo is not None:
                return photo
            shelf.request(slide)
        if self.choice.state is MirrorState.IDLE or self.choice.entry is not None:
            return Choice(MirrorState.IDLE, self.choice.content, self.choice.entry)
        return Choice(MirrorState.IDLE, PROMPT.content, None)

    def _photo(self, entry: int, state: MirrorState, shelf: PhotoShelf) -> Choice | None:
        if self.choice.entry == entry:
            return Choice(state, self.choice.content, entry)
        if not shelf.ready(entry):
            return None
        return Choice(state, ("photo", entry), entry)
