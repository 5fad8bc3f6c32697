"""What to show for a pose: matcher -> variety -> hysteresis, one call a frame.

    chooser = Chooser(matcher, Hysteresis(margin, frames, hold_s), Variety(groups, span, tie))
    decision = chooser.update(pose_or_None, pose_time_s)   # a hysteresis.Decision

The kiosk loop and `kiosk eval match` (photo changes on a held pose) use the same object,
so the benchmark measures the kiosk's own decision logic.

"No good match" has hysteresis too: a photo is shown when its distance is within
match.max_distance, and kept while it stays within max_distance + hysteresis_margin.
"""

from __future__ import annotations

import logging
from typing import Any

from kiosk.app.mirror.hysteresis import NO_MATCH, NOBODY, Decision, Hysteresis, Target
from kiosk.app.mirror.matcher import Matcher
from kiosk.app.mirror.variety import Variety
from kiosk.app.service.config import MatchConfig
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

#: Candidates fetched a frame for variety to choose among.
CANDIDATES = 8


class Chooser:
    def __init__(self, matcher: Matcher, hysteresis: Hysteresis, variety: Variety,
                 candidates: int = CANDIDATES) -> None:
        self.matcher = matcher
        self.hysteresis = hysteresis
        self.variety = variety
        self.k = max(int(candidates), 1)

    def reset(self) -> None:
        self.hysteresis.reset()
        self.variety.reset()

    def update(self, pose: Pose | None, now: float) -> Decision:
        """The decision for this frame; pose None means nobody; now: pose time in seconds."""
        before = self.hysteresis.target.entry  # None unless a photo is on screen
        if pose is None:
            decision = self.hysteresis.update(NOBODY, None, now=now)
        else:
            found = self.matcher.candidates(pose, k=self.k)
            shown = -1 if before is None else before
            proposed = self.hysteresis.pending.entry
            choice = self.variety.pick(found, shown, now, -1 if proposed is None else proposed) \
                if found else None
            if choice is None and before is not None:  # the photo on screen leaves at a higher bar
                d = self.matcher.distance_to(before)
                if d <= self.matcher.max_distance + self.hysteresis.margin:
                    choice = (before, d)
            if choice is None:
                decision = self.hysteresis.update(NO_MATCH, None, now=now)
            else:
                jump = before is not None and not self.variety.flipbook(before, choice[0])
                decision = self.hysteresis.update(Target.photo(choice[0]), choice[1],
                                                  self.matcher.distance_to, now, jump=jump)
        if decision.changed and before is not None:
            self.variety.left(before, now)
        return decision


def make_chooser(index: Any, metric: str, match: MatchConfig, *, wait_for_tables: bool = True) -> Chooser:
    """The kiosk's chooser for an index (a GalleryIndex) from the config's match section
    (wait_for_tables: see Matcher)."""
    matcher = Matcher(index, metric, match.max_distance, match.hysteresis_margin,
                      wait_for_tables=wait_for_tables)
    return Chooser(matcher, Hysteresis(match.hysteresis_margin, match.hysteresis_frames,
                                       match.hysteresis_s),
                   Variety(index.groups(), match.variety_span, match.tie_margin, index.strands()))
