"""Which photo is on screen: a new match must be clearly better, or persist.

Every frame proposes a *candidate*: a gallery entry id (the best match within
match.max_distance), NO_MATCH (a visitor, but nothing close enough: the "no good match"
state, never a random photo) or NOBODY (no visitor this frame). The shown target changes:

- at once to a photo when nothing is shown (a visitor arrives, or a good match returns);
- at once from a photo to a better photo when the new match beats the shown photo's own
  distance to the current pose by at least match.hysteresis_margin;
- otherwise only when the same candidate has been proposed for match.hysteresis_frames
  frames in a row (this also debounces NO_MATCH and NOBODY: a dropped frame changes nothing)
  and, for a photo, is no farther from the pose than the shown photo: on a held pose the
  jitter between two near-equal photos never flips the screen.

Distances are in calibrated units (kiosk.app.mirror.matcher), as is the margin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

NO_MATCH = -1
NOBODY = -2


@dataclass(frozen=True)
class Decision:
    target: int  # entry id >= 0, NO_MATCH or NOBODY
    changed: bool
    candidate: int
    candidate_distance: float | None
    shown_distance: float | None  # the shown photo's distance to the current pose


class Hysteresis:
    def __init__(self, margin: float, frames: int) -> None:
        self.margin = float(margin)
        self.frames = max(int(frames), 1)
        self.target = NOBODY
        self._pending = NOBODY
        self._count = 0

    def configure(self, margin: float, frames: int) -> None:
        self.margin = float(margin)
        self.frames = max(int(frames), 1)

    def reset(self) -> None:
        self.target = NOBODY
        self._pending = NOBODY
        self._count = 0

    def update(self, candidate: int, distance: float | None,
               shown_distance: Callable[[int], float] | None = None) -> Decision:
        """candidate: entry id, NO_MATCH or NOBODY; distance: the candidate's match distance.

        shown_distance(entry_id) gives the shown photo's distance to the current pose (only
        called when needed: a visitor with a candidate photo and a photo on screen).
        """
        shown_d: float | None = None
        if candidate == self.target:
            shown_d = distance
        elif self.target >= 0 and candidate != NOBODY and shown_distance is not None:
            shown_d = float(shown_distance(self.target))
        if candidate == self.target:
            self._pending, self._count = candidate, 0
            return Decision(self.target, False, candidate, distance, shown_d)
        switch = False
        if candidate >= 0 and self.target < 0:
            switch = True
        elif candidate >= 0 and distance is not None and shown_d is not None:
            switch = distance + self.margin <= shown_d
        if not switch:
            if candidate == self._pending:
                self._count += 1
            else:
                self._pending, self._count = candidate, 1
            not_worse = (candidate < 0 or distance is None or shown_d is None
                         or distance <= shown_d)
            switch = self._count >= self.frames and not_worse
        if switch:
            self.target = candidate
            self._pending, self._count = candidate, 0
        return Decision(self.target, switch, candidate, distance, shown_d)
