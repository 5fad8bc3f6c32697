"""Which photo is on screen: a new match must be clearly better, or persist.

Every frame proposes a *candidate* `Target` (kiosk.app.mirror.target): a photo (the best match
within match.max_distance), NO_MATCH (a visitor, but nothing close enough: the "no good match"
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

from kiosk.app.mirror.target import NO_MATCH, NOBODY, Target

log = logging.getLogger(__name__)

__all__ = ["NOBODY", "NO_MATCH", "Decision", "Hysteresis", "Target"]


@dataclass(frozen=True)
class Decision:
    target: Target
    changed: bool
    candidate: Target
    candidate_distance: float | None
    shown_distance: float | None  # the shown photo's distance to the current pose


class Hysteresis:
    def __init__(self, margin: float, frames: int) -> None:
        self.margin = float(margin)
        self.frames = max(int(frames), 1)
        self.target: Target = NOBODY
        self._pending: Target = NOBODY
        self._count = 0

    def configure(self, margin: float, frames: int) -> None:
        self.margin = float(margin)
        self.frames = max(int(frames), 1)

    def reset(self) -> None:
        self.target = NOBODY
        self._pending = NOBODY
        self._count = 0

    def update(self, candidate: Target, distance: float | None,
               shown_distance: Callable[[int], float] | None = None) -> Decision:
        """candidate: a photo, NO_MATCH or NOBODY; distance: the candidate's match distance.

        shown_distance(entry_id) gives the shown photo's distance to the current pose (only
        called when needed: a visitor with a candidate photo and a photo on screen).
        """
        shown_d: float | None = None
        if candidate == self.target:
            shown_d = distance
        elif self.target.entry is not None and candidate != NOBODY and shown_distance is not None:
            shown_d = float(shown_distance(self.target.entry))
        if candidate == self.target:
            self._pending, self._count = candidate, 0
            return Decision(self.target, False, candidate, distance, shown_d)
        switch = False
        if candidate.is_photo and not self.target.is_photo:
            switch = True
        elif candidate.is_photo and distance is not None and shown_d is not None:
            switch = distance + self.margin <= shown_d
        if not switch:
            if candidate == self._pending:
                self._count += 1
            else:
                self._pending, self._count = candidate, 1
            not_worse = (not candidate.is_photo or distance is None or shown_d is None
                         or distance <= shown_d)
            switch = self._count >= self.frames and not_worse
        if switch:
            self.target = candidate
            self._pending, self._count = candidate, 0
        return Decision(self.target, switch, candidate, distance, shown_d)
