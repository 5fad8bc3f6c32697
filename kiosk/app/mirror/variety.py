"""Variety: among near-ties, another source than the shown one, and not one shown lately.

A *group* is an archive source (kiosk.gallery.reader.GalleryIndex.groups(): a photo with
its mirrored twin, or every frame of one video). Once the screen leaves a group, that group
is *resting* for `span_s` seconds of pose time.

Variety only ever breaks ties: among the candidates within `tie_margin` (calibrated units)
of the best one, the shown photo wins if it is one of them (calm); else the photo proposed on
the last pose (a new photo stays the same over the poses that confirm it, and its photo, loaded
ahead, is ready: kiosk.app.photos.Photos.anticipate); else a group that is not
resting comes first, then a group other than the shown one (Movie Mirror showed its top 3 from
different films), then the group left longest ago, then the nearer. A candidate farther than
the tie margin is never chosen over the best: a resting source that clearly matches the visitor
best (a visitor returning to a pose) is shown again. The shown group itself never rests.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


class Variety:
    def __init__(self, groups: np.ndarray, span_s: float, tie_margin: float,
                 strands: np.ndarray | None = None) -> None:
        """groups: (N,) source number of each entry id; span_s >= 0; tie_margin >= 0;
        strands: (N,) flipbook number of each entry id (MatchIndex.strands; None: every entry
        its own)."""
        self.groups = np.asarray(groups, dtype=np.int64)
        self.strands = (np.arange(len(self.groups)) if strands is None
                        else np.asarray(strands, dtype=np.int64))
        self.span_s = float(span_s)
        self.tie_margin = float(tie_margin)
        self._left: dict[int, float] = {}  # group -> pose time the screen left it

    def reset(self) -> None:
        self._left.clear()

    def flipbook(self, a: int, b: int) -> bool:
        """Whether entry b runs on from entry a as a flipbook (frames of one video, one
        orientation): the mirror follows a moving visitor through them."""
        return bool(self.strands[a] == self.strands[b])

    def resting(self, group: int, now: float) -> bool:
        t = self._left.get(group)
        return t is not None and now - t < self.span_s

    def pick(self, candidates: Sequence[tuple[int, float]], shown: int, now: float,
             proposed: int = -1) -> tuple[int, float] | None:
        """The candidate (entry id, distance) to propose (None: no candidates).

        candidates: nearest first; shown: the entry on screen (< 0: none); now: pose time (s);
        proposed: the entry proposed on the last pose (< 0: none). The answer is always within
        tie_margin of candidates[0].
        """
        if not candidates:
            return None
        best_d = min(d for _, d in candidates)
        ties = [c for c in candidates if c[1] <= best_d + self.tie_margin]
        for keep in (shown, proposed):  # calm: the shown photo, then the proposed one, if as good
            if keep >= 0 and any(i == keep for i, _ in ties):
                return next(c for c in ties if c[0] == keep)
        shown_group = int(self.groups[shown]) if shown >= 0 else None

        def rank(c: tuple[int, float]) -> tuple[bool, bool, float, float]:
            g = int(self.groups[c[0]])
            return (g != shown_group and self.resting(g, now), g == shown_group,
                    self._left.get(g, -np.inf), c[1])

        return min(ties, key=rank)

    def left(self, entry_id: int, now: float) -> None:
        """The screen stopped showing entry_id at pose time now."""
        if entry_id >= 0:
            self._left[int(self.groups[entry_id])] = float(now)
