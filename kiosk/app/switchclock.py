"""A photo switch's latency, camera frame capture -> the new photo presented, and its parts.

    clock = SwitchClock()
    clock.observe(perception)                  # every displayed frame: the newest perception
    parts = clock.switched(step_start, shown_at, photo_ready)   # the frame that presents it

The latency of a switch runs from the capture of the camera frame whose perception first
proposed the new target (Perception.captured_at) to the moment the frame showing the photo was
presented (after display.show). It is cut at the moments it passes through, all time.monotonic():

    captured --age--> taken by the pose worker --estimate--> pose matched
    --photo--> the perception published with its photo ready (decoded in the worker before it
               is published, or later by the image cache's thread)
    --pickup--> the start of the displayed frame that saw both --present--> presented

so the parts (ms) add up to `switch_latency`. A missing stamp (0.0) counts as a 0-length part.
"""

from __future__ import annotations

from kiosk.app.mirror.perceive import Perception
from kiosk.app.mirror.target import NOBODY, Target

#: The parts of a switch, in order (report.timings keys are "switch_" + part).
PARTS = ("age", "estimate", "photo", "pickup", "present")
LATENCY = "switch_latency"


class SwitchClock:
    def __init__(self) -> None:
        self.target: Target = NOBODY
        self.since: Perception | None = None  # the perception that first proposed `target`

    def reset(self) -> None:
        self.target, self.since = NOBODY, None

    def observe(self, perception: Perception | None) -> None:
        if perception is not None and perception.target != self.target:
            self.target, self.since = perception.target, perception

    def switched(self, step_start: float, shown_at: float, photo_ready: float | None) -> dict[str, float]:
        """The latency (ms) of the switch to `target` presented at shown_at, and its parts."""
        p = self.since
        if p is None:
            return {}
        marks = [p.captured_at]
        ready = max(p.published_at, photo_ready or 0.0)
        for t in (p.taken_at, p.matched_at, ready, step_start, shown_at):
            marks.append(max(marks[-1], t))  # a missing or earlier stamp: a part of length 0
        spans = zip(PARTS, marks[:-1], marks[1:], strict=True)
        out = {f"switch_{name}": (b - a) * 1000.0 for name, a, b in spans}
        out[LATENCY] = (shown_at - p.captured_at) * 1000.0
        return out


def is_switch_timing(key: str) -> bool:
    """report.timings keys that describe a switch, not every frame (kept out of the frame stats)."""
    return key.startswith("switch_")
