"""Which photo is on screen: a new match must be clearly better, or persist.

Every frame proposes a *candidate* `Target` (kiosk.app.mirror.target): a photo (the best match
within match.max_distance), NO_MATCH (a visitor, but nothing close enough: the "no good match"
state, never a random photo) or NOBODY (no visitor this frame). The shown target changes:

- at once to a photo when nothing is shown (a visitor arrives, or a good match returns);
- from a photo to a better photo when the new match beats the shown photo's own distance to
  the current pose by at least match.hysteresis_margin on `CONFIRM_FRAMES` frames in a row
  (a real move; one frame is one noisy measurement: a keypoint flickering in or out of view
  can make the shown photo look far for a frame);
- otherwise only when the same candidate has been proposed for match.hysteresis_frames
  frames in a row *and* for match.hysteresis_s seconds of pose time (calm whatever the pose
  rate: 3 frames are 100 ms on an Edge TPU, 600 ms at 5 poses a second); this also debounces
  NO_MATCH and NOBODY. A photo must then be no farther from the pose than the shown photo: on a
  held pose the jitter between two near-equal photos never flips the screen.

Distances are in calibrated units (kiosk.app.mirror.matcher), as is the margin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.app.mirror.target import NO_MATCH, NOBODY, Target

log = logging.getLogger(__name__)

__all__ = ["CONFIRM_FRAMES", "NOBODY", "NO_MATCH", "Decision", "Hysteresis", "Target"]

#: frames in a row a clearly better photo must be clearly better (at most hysteresis_frames)
CONFIRM_FRAMES = 2


@dataclass(frozen=True)
class Decision:
    target: Target
    changed: bool
    candidate: Target
    candidate_distance: float | None
    shown_distance: float | None  # the shown photo's distance to the current pose


class Hysteresis:
    def __init__(self, margin: float, frames: int, hold_s: float = 0.0) -> None:
        self.configure(margin, frames, hold_s)
        self.reset()

    def configure(self, margin: float, frames: int, hold_s: float = 0.0) -> None:
        self.margin = float(margin)
        self.frames = max(int(frames), 1)
        self.hold_s = max(float(hold_s), 0.0)

    def reset(self) -> None:
        self.target: Target = NOBODY
        self._pending: Target = NOBODY
        self._count = 0  # frames in a row the pending candidate was proposed
        self._since = 0.0  # pose time of the first of them
        self._clear = 0  # frames in a row a photo beat the shown one by the margin

    def update(self, candidate: Target, distance: float | None,
               shown_distance: Callable[[int], float] | None = None, now: float = 0.0) -> Decision:
        """candidate: a photo, NO_MATCH or NOBODY; distance: the candidate's match distance;
        now: pose time (s).

        shown_distance(entry_id) gives the shown photo's distance to the current pose (only
        called when needed: a visitor with a candidate photo and a photo on screen).
        """
        shown_d: float | None = None
        if candidate == self.target:
            self._pending, self._count, self._clear = candidate, 0, 0
            return Decision(self.target, False, candidate, distance, distance)
        if self.target.entry is not None and candidate != NOBODY and shown_distance is not None:
            shown_d = float(shown_distance(self.target.entry))
        if candidate == self._pending:
            self._count += 1
        else:
            self._pending, self._count, self._since = candidate, 1, float(now)
        clear = (candidate.is_photo and distance is not None and shown_d is not None
                 and distance + self.margin <= shown_d)
        self._clear = self._clear + 1 if clear else 0
        if candidate.is_photo and not self.target.is_photo:
            switch = True
        elif clear and self._clear >= min(CONFIRM_FRAMES, self.frames):
            switch = True
        else:
            not_worse = (not candidate.is_photo or distance is None or shown_d is None
                         or distance <= shown_d)
            switch = (self._count >= self.frames and float(now) - self._since >= self.hold_s - 1e-9
                      and not_worse)
        if switch:
            self.target = candidate
            self._pending, self._count, self._clear = candidate, 0, 0
        return Decision(self.target, switch, candidate, distance, shown_d)
