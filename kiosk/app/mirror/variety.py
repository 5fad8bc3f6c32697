"""Variety: a source is not shown again within a span, and near-ties go to another source.

A *group* is an archive source (kiosk.gallery.reader.GalleryIndex.groups(): a photo with
its mirrored twin, or every frame of one video). Once the screen leaves a group, that group
is *resting* for `span_s` seconds of pose time: its entries are not proposed. Among the
candidates within `tie_margin` (calibrated units) of the best, one from a group other than
the shown one, and not shown for the longest time, is preferred (Movie Mirror showed its
top 3 from different films). The shown group itself never rests: a still visitor keeps it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


class Variety:
    def __init__(self, groups: np.ndarray, span_s: float, tie_margin: float) -> None:
        """groups: (N,) source number of each entry id; span_s >= 0; tie_margin >= 0."""
        self.groups = np.asarray(groups, dtype=np.int64)
        self.span_s = float(span_s)
        self.tie_margin = float(tie_margin)
        self._left: dict[int, float] = {}  # group -> pose time the screen left it

    def reset(self) -> None:
        self._left.clear()

    def resting(self, group: int, now: float) -> bool:
        t = self._left.get(group)
        return t is not None and now - t < self.span_s

    def pick(self, candidates: Sequence[tuple[int, float]], shown: int,
             now: float) -> tuple[int, float] | None:
        """The candidate (entry id, distance) to propose, or None if all are resting.

        candidates: nearest first; shown: the entry on screen (< 0: none); now: pose time (s).
        """
        shown_group = int(self.groups[shown]) if shown >= 0 else None
        ok = [(i, d) for i, d in candidates
              if int(self.groups[i]) == shown_group or not self.resting(int(self.groups[i]), now)]
        if not ok:
            return None
        best_d = ok[0][1]
        ties = [c for c in ok if c[1] <= best_d + self.tie_margin]
        if shown >= 0 and any(i == shown for i, _ in ties):
            return next(c for c in ties if c[0] == shown)  # calm: the shown photo is as good
        others = [c for c in ties if int(self.groups[c[0]]) != shown_group]
        pool = others or ties
        return min(pool, key=lambda c: (self._left.get(int(self.groups[c[0]]), -np.inf), c[1]))

    def left(self, entry_id: int, now: float) -> None:
        """The screen stopped showing entry_id at pose time now."""
        if entry_id >= 0:
            self._left[int(self.groups[entry_id])] = float(now)
