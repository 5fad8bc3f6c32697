"""Photos off the render path: a background loader and a bounded LRU cache of surfaces.

The loop asks for the photo it will probably need (`request`) as soon as a match is proposed,
and only shows it once it is ready (`get` never blocks, never touches the disk). A rendition
already at the photo slot's size is used as it is; another size fills the slot once (cover) when
that crops little, else it is fitted, here, when it is loaded - never per frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from kiosk.app.screen.layout import Rect, cover, fit

log = logging.getLogger(__name__)

#: The most of a photo's area that filling a slot may crop away (beyond it, the photo is fitted,
#: so a person is never cut off just to avoid bars).
MAX_COVER_CROP = 0.15

#: Renditions decoded by SDL_image when they are already the slot's size and RGB (no EXIF
#: orientation is applied on either path: renditions are written upright by the builder).
FAST_FORMATS = ("JPEG", "PNG")

#: Sentinel stored for a photo that could not be loaded (not retried until clear()).
FAILED = object()


def load_photo(path: Any, slot: tuple[int, int], like: Any = None) -> Any:
    """A rendition file as a pygame Surface fitted into a slot of (w, h) pixels.

    like: a surface (made in the main thread) whose pixel format the photo is converted to, so
    that blitting it is a plain copy; the window itself is never touched from this thread.
    """
    import pygame
    from PIL import Image

    from kiosk.pose.images import open_image

    with open_image(path) as im:
        if im.size == tuple(slot) and im.format in FAST_FORMATS and im.mode == "RGB":
            # the common case, a rendition made for this slot: SDL_image decodes it straight
            # into a surface with the GIL released, 4-5x faster than Pillow + tobytes + copy
            surface = pygame.image.load(str(path))
            return surface.convert(like) if like is not None and pygame.display.get_init() else surface
        im = im.convert("RGB")
        if im.size != slot:
            c = cover(im.size[0], im.size[1], Rect(0, 0, *slot)).crop
            if c.w * c.h >= (1 - MAX_COVER_CROP) * im.size[0] * im.size[1]:
                # nearly the slot's shape: fill it (the thin overflow is cropped), no black bars
                im = im.resize(slot, Image.Resampling.LANCZOS, box=(c.x, c.y, c.x + c.w, c.y + c.h))
            else:  # another shape (e.g. a portrait rendition on a full landscape screen): fit it
                r = fit(im.size[0], im.size[1], Rect(0, 0, *slot))
                im = im.resize((r.w, r.h), Image.Resampling.LANCZOS)
        data, size = im.tobytes(), im.size
    frombytes = getattr(pygame.image, "frombytes", None) or pygame.image.fromstring
    surface = frombytes(data, size, "RGB")
    if like is not None and pygame.display.get_init():  # pygame refuses to convert otherwise
        surface = surface.convert(like)
    return surface


class ImageCache:
    """Keyed surfaces loaded by one background thread; newest requests are served first."""

    def __init__(self, loader: Callable[[Hashable], Any], capacity: int = 16, max_pending: int = 8) -> None:
        self.loader = loader
        self.capacity = max(int(capacity), 2)
        self.max_pending = max_pending
        self.loaded = 0
        self.failed = 0
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        #: time.monotonic() when each cached key became ready, and its load time (ms)
        self._ready_at: dict[Hashable, tuple[float, float]] = {}
        self._pending: list[Hashable] = []
        self._loading: set[Hashable] = set()  # keys being loaded (by the loader thread or load_now)
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="imagecache", daemon=True)
        self._thread.start()

    def request(self, key: Hashable) -> None:
        """Load key in the background unless it is cached or already asked for."""
        with self._cond:
            if key in self._cache:
                self._cache.move_to_end(key)
                return
            if key in self._pending:
                self._pending.remove(key)
            self._pending.append(key)
            del self._pending[: -self.max_pending]
            self._cond.notify()

    def get(self, key: Hashable) -> Any | None:
        """The surface if loaded (None if not yet, or if loading failed); requests it if missing."""
        with self._cond:
            value = self._cache.get(key)
            if value is not None:
                self._cache.move_to_end(key)
                return None if value is FAILED else value
        self.request(key)
        return None

    def load_now(self, key: Hashable) -> Any | None:
        """key's surface, loaded in the calling thread if it is not cached (the pose worker, so
        that a matched photo is ready when its perception is published): a key the loader thread
        is loading is waited for, a queued one is taken from the queue. None if loading failed."""
        with self._cond:
            self._cond.wait_for(lambda: key not in self._loading)
            value = self._cache.get(key)
            if value is None:
                if key in self._pending:
                    self._pending.remove(key)
                self._loading.add(key)
        if value is None:
            value = self._load(key)
        return None if value is FAILED else value

    def ready_at(self, key: Hashable) -> tuple[float, float] | None:
        """(time.monotonic() when key's surface became ready, its load time in ms), if cached."""
        with self._cond:
            return self._ready_at.get(key)

    def failed_key(self, key: Hashable) -> bool:
        with self._cond:
            return self._cache.get(key) is FAILED

    def wait(self, key: Hashable, timeout: float = 5.0) -> Any | None:
        """Block until key is loaded (tests and tools; never the render path)."""
        self.request(key)
        with self._cond:
            self._cond.wait_for(lambda: key in self._cache, timeout)
            value = self._cache.get(key)
        return None if value is None or value is FAILED else value

    def clear(self) -> None:
        with self._cond:
            self._cache.clear()
            self._ready_at.clear()
            self._pending.clear()

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(2.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stop or bool(self._pending))
                if self._stop:
                    return
                key = self._pending.pop()
                if key in self._loading or key in self._cache:
                    continue
                self._loading.add(key)
            self._load(key)

    def _load(self, key: Hashable) -> Any:
        """Load key (marked as loading by the caller) and store it, or FAILED."""
        t0 = time.monotonic()
        try:
            value = self.loader(key)
            self.loaded += 1
        except Exception as exc:  # a bad rendition must not stop the kiosk
            log.warning("photo %s cannot be loaded (%s): run `kiosk index verify` on the index",
                        key, exc)
            value = FAILED
            self.failed += 1
        t1 = time.monotonic()
        with self._cond:
            self._loading.discard(key)
            self._cache[key] = value
            self._ready_at[key] = (t1, (t1 - t0) * 1000.0)
            self._cache.move_to_end(key)
            while len(self._cache) > self.capacity:
                self._ready_at.pop(self._cache.popitem(last=False)[0], None)
            self._cond.notify_all()
        return value
