"""`--screenshots DIR`: one PNG of the composed screen per change of photo, plus the last frame.

A change is saved once its photo is fully shown (after the crossfade) and named after the frame
on which it changed (`frame00012_entry33.png`, or `frame00040_no_match.png`); a change still
fading in when the next comes is saved as it was last shown, so no change is skipped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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
            self._save()

    def after_render(self, frame: int, changed: bool, entry: int | None, state: str, fading: bool) -> None:
        if changed:
            what = f"entry{entry}" if entry is not None else state
            self._pending = f"frame{frame:05d}_{what}.png"
        if self._pending is not None and not fading:
            self._save()

    def close(self) -> None:
        if self._pending is not None:
            self._save()
        self.display.save(self.dir / "last.png")
        log.info("last screen saved to %s", self.dir / "last.png")

    def _save(self) -> None:
        assert self._pending is not None
        self.display.save(self.dir / self._pending)
        self.saved += 1
        self._pending = None
