"""Which photo is on screen: a new match must be clearly better, or persist.

Every frame proposes a *candidate* `Target` (kiosk.app.mirror.target): a photo (the best match
within match.max_distance), NO_MATCH (a visitor, but nothing close enough: the "no good match"
state, never a random photo) or NOBODY (no visitor this frame). The shown target changes:

- at once to a photo when a visitor arrives (the tracker has confirmed them already);
- from "no good match" to a photo when the visitor's poses have had a match (any photo) on
  `CONFIRM_FRAMES` poses in a row: a pose on the edge of max_distance does not flash photos;
- from a photo to a better photo when the new match beats the shown photo's own distance to
  the current pose by at least match.hysteresis_margin, and the visitor's poses have rejected
  the shown photo (a photo clearly better, or nothing matching) on `CONFIRM_FRAMES` poses in a
  row (a real move; one pose is one noisy measurement: a keypoint misplaced for a frame can
  make the shown photo look far);
- to NO_MATCH after a sustained miss: match.hysteresis_frames poses in a row where nothing
  matched *and* match.hysteresis_s seconds of pose time since the first (a pose in between
  with a clearly better photo does not end the miss, nor does a pose without the visitor);
- otherwise only when the same candidate has been proposed for hysteresis_frames frames in a
  row and for hysteresis_s seconds of pose time (calm whatever the pose rate: 3 frames are
  100 ms on an Edge TPU, 600 ms at 5 poses a second); this also debounces NOBODY. A photo must
  then be no farther from the pose than the shown photo, and, replacing a photo it does not
  run on from as a flipbook (`jump`, told by the Chooser: another photo, a person's mirrored
  twin, another video), have led NEAR_TIE_PERSIST times as long (frames and seconds): it is a
  near-tie of the shown photo (a clearly better one takes the path above), a jump that gains
  the visitor nothing, and on a held pose two near-equal photos take turns leading for a few
  poses (the pose model's frame-to-frame noise, and the sizes of kiosk.pose.scales voted in
  turn). The next frame of the shown video is no jump: a visitor moving slowly is followed frame
  by frame (the flipbook, MatchIndex.strands).

Distances are in calibrated units (kiosk.app.mirror.matcher), as is the margin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.app.mirror.target import NO_MATCH, NOBODY, Target

log = logging.getLogger(__name__)

__all__ = ["CONFIRM_FRAMES", "NEAR_TIE_PERSIST", "NOBODY", "NO_MATCH", "Decision", "Hysteresis",
           "Target"]

#: poses in a row that must reject what is shown before a clearly better photo (or a photo
#: after "no good match") replaces it; at most hysteresis_frames
CONFIRM_FRAMES = 2
#: a photo that is a jump from the shown one (not its video's next frame), neither clearly
#: better nor replacing a state (a near-tie of the shown photo), must be proposed this many
#: times longer than hysteresis_frames / hysteresis_s before it is shown (docs/match-quality.md
#: #source-out: on `kiosk eval match`'s held poses at 10 a second two near-equal photos led in
#: turn for 3-4 poses)
NEAR_TIE_PERSIST = 2


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
        self._rejected = 0  # frames in a row the visitor's pose rejected what is shown
        self._missed = 0  # of them, frames where nothing matched (a photo clearly better: neutral)
        self._missed_since = 0.0  # pose time of the first of them

    @property
    def pending(self) -> Target:
        """The candidate proposed on the last pose (the one being confirmed if not shown)."""
        return self._pending

    def update(self, candidate: Target, distance: float | None,
               shown_distance: Callable[[int], float] | None = None, now: float = 0.0, *,
               jump: bool = False) -> Decision:
        """candidate: a photo, NO_MATCH or NOBODY; distance: the candidate's match distance;
        now: pose time (s); jump: the candidate photo does not run on from the shown photo as a
        flipbook (a near-tie then waits NEAR_TIE_PERSIST times as long).

        shown_distance(entry_id) gives the shown photo's distance to the current pose (only
        called when needed: a visitor with a candidate photo and a photo on screen).
        """
        if candidate == self.target:
            self._pending, self._count, self._rejected, self._missed = candidate, 0, 0, 0
            return Decision(self.target, False, candidate, distance, distance)
        shown_d: float | None = None
        if self.target.entry is not None and candidate != NOBODY and shown_distance is not None:
            shown_d = float(shown_distance(self.target.entry))
        if candidate == self._pending:
            self._count += 1
        else:
            self._pending, self._count, self._since = candidate, 1, float(now)
        clear = (candidate.is_photo and distance is not None and shown_d is not None
                 and distance + self.margin <= shown_d)
        self._count_rejection(candidate, clear, now)
        if candidate.is_photo and self.target == NOBODY:  # a visitor arrives (the tracker confirmed them)
            switch = True
        elif (clear or (candidate.is_photo and self.target == NO_MATCH)) and self._confirmed():
            switch = True
        elif candidate == NO_MATCH and self.target.is_photo:  # the photo left the band: a miss
            switch = self._persisted(self._missed, self._missed_since, now)
        else:
            not_worse = (not candidate.is_photo or distance is None or shown_d is None
                         or distance <= shown_d)
            tie = NEAR_TIE_PERSIST if jump and candidate.is_photo else 1
            switch = self._persisted(self._count, self._since, now, tie) and not_worse
        if switch:
            self.target = candidate
            self._pending, self._count, self._rejected, self._missed = candidate, 0, 0, 0
        return Decision(self.target, switch, candidate, distance, shown_d)

    def _count_rejection(self, candidate: Target, clear: bool, now: float) -> None:
        """A visitor's frame rejects the shown photo when a photo beats it by the margin or
        nothing matches (NO_MATCH: the chooser keeps a photo within max_distance + margin), and
        rejects "no good match" when a photo matches; a frame without the visitor (NOBODY)
        says nothing."""
        if self.target == NOBODY or candidate == NOBODY:
            return
        if candidate == NO_MATCH:
            if self._missed == 0:
                self._missed_since = float(now)
            self._missed += 1
        elif not clear:
            self._missed = 0
        if clear or candidate == NO_MATCH or (self.target == NO_MATCH and candidate.is_photo):
            self._rejected += 1
        else:
            self._rejected = 0

    def _confirmed(self) -> bool:
        return self._rejected >= min(CONFIRM_FRAMES, self.frames)

    def _persisted(self, frames: int, since: float, now: float, times: int = 1) -> bool:
        """frames in a row since pose time `since` reach `times` x (hysteresis_frames, hysteresis_s)."""
        return frames >= self.frames * times and float(now) - since >= self.hold_s * times - 1e-9
