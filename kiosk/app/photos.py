"""The mirror's photos: the gallery entries' renditions as surfaces for the photo slot.

    photos = Photos(index=lambda: loop.index, slot=lambda: (w, h), like=surface)
    photos.start()                       # the image cache's loader thread
    photos.prepare(perception)           # in the pose worker, before the perception is published
    photos.anticipate(perception)        # ...after: the loader decodes a challenger's photo ahead
    photos.ready(entry) / request(entry) # the director's shelf (never blocks)
    photos.get(entry)                    # the render loop: the surface, or None while loading

A switch shows a photo once its surface is decoded (the director waits for it, keeping the old
content). To present a new match at once, the pose worker decodes the target's photo itself
right after the match, before publishing the perception (`prepare`; a few ms for a rendition of
the slot's size, decoded by SDL_image with the GIL released). Keys carry the index id and the
slot's size: a new index or slot never shows an old surface.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any, cast

from kiosk.app.mirror.perceive import Perception
from kiosk.app.screen.imagecache import ImageCache, load_photo
from kiosk.gallery.protocol import MatchIndex

log = logging.getLogger(__name__)

#: (index id, entry id, photo slot (w, h)): a new index or slot never shows an old surface
PhotoKey = tuple[str | None, int, tuple[int, int]]


class Photos:
    def __init__(self, *, index: Callable[[], MatchIndex | None], slot: Callable[[], tuple[int, int]],
                 like: Any = None) -> None:
        self.index = index  # the index loaded now (None: none)
        self.slot = slot  # the photo slot's (w, h) now
        #: photos are converted to the canvas's pixel format (a 1x1 template made in the main thread)
        self.like = like
        self.cache: ImageCache | None = None  # started by start()

    def start(self) -> None:
        self.cache = ImageCache(self._load)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def clear(self) -> None:
        if self.cache is not None:
            self.cache.clear()

    def key(self, entry: int) -> Hashable:
        index = self.index()
        return (index.index_id if index is not None else None, entry, self.slot())

    # ---- the director's shelf ---------------------------------------------------------------
    def ready(self, entry: int) -> bool:
        return self.get(entry) is not None

    def request(self, entry: int) -> None:
        if self.cache is not None:
            self.cache.request(self.key(entry))

    # ---- the render loop and the pose worker -----------------------------------------------------
    def get(self, entry: int) -> Any | None:
        """The entry's surface if loaded (never blocks; asks the loader for it otherwise)."""
        return self.cache.get(self.key(entry)) if self.cache is not None else None

    def ready_at(self, entry: int | None) -> float | None:
        """time.monotonic() when the entry's surface became ready (None: not cached)."""
        if self.cache is None or entry is None:
            return None
        ready = self.cache.ready_at(self.key(entry))
        return ready[0] if ready is not None else None

    def prepare(self, perception: Perception) -> None:
        """In the pose worker, before publishing: decode the target's photo now, unless
        `anticipate` already had it loaded."""
        if self.cache is not None and perception.target.entry is not None:
            self.cache.load_now(self.key(perception.target.entry))

    def anticipate(self, perception: Perception) -> None:
        """Once a perception is published: a candidate other than the target asks the loader
        thread for its photo. The hysteresis confirms a new photo on a later pose, so the photo
        is usually decoded before it becomes the target (and `prepare` finds it cached)."""
        entry = perception.candidate.entry
        if entry is not None and entry != perception.target.entry:
            self.request(entry)

    def _load(self, key: Hashable) -> Any:
        index_id, entry, slot = cast(PhotoKey, key)  # a key made by key()
        index = self.index()
        if index is None or index.index_id != index_id:
            raise LookupError(f"index {index_id} is no longer loaded")
        return load_photo(index.rendition_path(entry), slot, self.like)
