"""A photo switch's latency cut into parts that add up to it (fixed stamps, no clock)."""

from __future__ import annotations

import pytest

from kiosk.app.mirror.perceive import Perception
from kiosk.app.mirror.target import NOBODY, Target
from kiosk.app.switchclock import LATENCY, PARTS, SwitchClock


def _perception(target: Target, captured: float, taken: float, matched: float,
                published: float) -> Perception:
    return Perception(seq=1, camera_seq=1, t=0.0, captured_at=captured, frame_size=(4, 4), poses=1, main=None,
                      velocity=None, visitor=True, candidate=target, distance=0.1, target=target,
                      target_distance=0.1, step_back=False, taken_at=taken, matched_at=matched,
                      published_at=published)


@pytest.mark.parametrize(("photo_ready", "expected"), [
    # the photo decoded by the worker before publishing: photo = matched -> published
    (None, {"age": 20, "estimate": 300, "photo": 5, "pickup": 10, "present": 4}),
    (10.100, {"age": 20, "estimate": 300, "photo": 5, "pickup": 10, "present": 4}),  # cached long before
    # decoded later by the loader thread: photo runs to its ready time, pickup from there
    (10.330, {"age": 20, "estimate": 300, "photo": 10, "pickup": 5, "present": 4}),
    # stamped ready just after the frame that showed it started: a 0-length pickup, the sum holds
    (10.337, {"age": 20, "estimate": 300, "photo": 17, "pickup": 0, "present": 2}),
])
def test_the_parts_add_up_to_the_latency(photo_ready: float | None, expected: dict[str, float]) -> None:
    clock = SwitchClock()
    clock.observe(_perception(Target.photo(3), 10.000, 10.020, 10.320, 10.325))
    out = clock.switched(10.335, 10.339, photo_ready)
    assert out[LATENCY] == pytest.approx(339)
    assert {p: out[f"switch_{p}"] for p in PARTS} == pytest.approx(expected)
    assert sum(out[f"switch_{p}"] for p in PARTS) == pytest.approx(out[LATENCY])


def test_the_latency_runs_from_the_perception_that_first_proposed_the_target() -> None:
    clock = SwitchClock()
    assert clock.switched(1.0, 1.0, None) == {}  # nothing proposed yet
    first = _perception(Target.photo(3), 1.0, 1.0, 1.3, 1.3)
    clock.observe(first)
    clock.observe(_perception(Target.photo(3), 1.1, 1.1, 1.4, 1.4))  # the same target again
    assert clock.since is first and clock.target == Target.photo(3)
    clock.observe(_perception(NOBODY, 1.2, 1.2, 1.5, 1.5))
    assert clock.target == NOBODY
