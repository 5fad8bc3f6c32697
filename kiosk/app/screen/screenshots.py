"""`--screenshots DIR`: one PNG of the composed screen per change of what is shown, plus the last.

A change is saved once it is fully on screen (its crossfade finished) and named after the frame
on which it changed: `frame00012_entry33.png`, `frame00040_no_match.png`. A change still fading
in when the next one comes is saved as the screen was just before the next, and named as a fade
in progress: `frame00012_entry33_fading.png`; no change is skipped, no blend carries a clean name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FADING_SUFFIX = "_fading"


class Screenshots:
    def __init__(self, directory: Path, display: Any) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.display = display
        self.saved = 0
        self._pending: str | None = None

    def before_render(self, changed: bool) -> None:
        """Called before a frame is drawn: the screen still shows the previous frame."""
        if changed and self._pending is not None:
            self._save(fading=True)

    def after_render(self, frame: int, changed: bool, what: str, fading: bool) -> None:
        """what: the shown content's name (`entry33`, `no_match`, ...); fading: a crossfade is on."""
        if changed:
            self._pending = f"frame{frame:05d}_{what}"
        if self._pending is not None and not fading:
            self._save(fading=False)

    def close(self) -> None:
        if self._pending is not None:
            self._save(fading=True)
        self.display.save(self.dir / "last.png")
        log.info("last screen saved to %s", self.dir / "last.png")

    def _save(self, *, fading: bool) -> None:
        assert self._pending is not None
        name = self._pending + (FADING_SUFFIX if fading else "") + ".png"
        self.display.save(self.dir / name)
        self.saved += 1
        self._pending = None
