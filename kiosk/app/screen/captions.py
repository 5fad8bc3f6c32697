"""Captions (title, credit · licence) of gallery entries, remembered for the photo on screen."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class Captions:
    def __init__(self) -> None:
        self._index: Any = None
        self._entry: int | None = None
        self._caption: tuple[str, str] | None = None

    def clear(self) -> None:
        self._index, self._entry, self._caption = None, None, None

    def for_entry(self, index: Any | None, entry: int | None) -> tuple[str, str] | None:
        """(title, credit) of entry in index (None for no entry or no index)."""
        if entry is None or index is None:
            return None
        if self._index is not index or self._entry != entry:
            e = index.entry(entry)
            credit = " · ".join(s for s in (e.credit, e.licence) if s)
            self._index, self._entry, self._caption = index, entry, (e.title, credit)
        return self._caption
