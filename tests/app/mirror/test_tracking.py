"""Main person selection, tracking across frames, the step-back test."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.app.mirror.tracking import MainPersonTracker, body_cut_off, iou
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, pose_at

W, H = 720, 1280


def _tracker(**kw) -> MainPersonTracker:
    args = {"min_pose_score": 0.25, "keypoint_threshold": 0.3, "min_confident_keypoints": 8, "max_missing": 2}
    args.update(kw)
    return MainPersonTracker(**args)


def test_largest_and_most_central_person_is_chosen() -> None:
    small_centre = pose_at(STAND, scale=0.4)
    big_edge = pose_at(STAND, dx=-300, scale=0.6)
    big_centre = pose_at(STAND, scale=0.6)
    t = _tracker()
    assert t.update([small_centre, big_edge, big_centre], W, H).pose is big_centre
    t2 = _tracker()
    assert t2.update([small_centre, big_edge], W, H).pose is big_edge  # bigger wins over central


def test_the_main_person_stays_while_present_even_if_someone_bigger_arrives() -> None:
    t = _tracker()
    visitor = pose_at(STAND, dx=-150, scale=0.5)
    first = t.update([visitor], W, H)
    assert first is not None
    for step in range(1, 6):  # the visitor moves a little each frame; a big passer-by walks in
        moved = pose_at(STAND, dx=-150 + 10 * step, scale=0.5)
        big = pose_at(STAND, dx=200, scale=0.9)
        tr = t.update([big, moved], W, H)
        assert tr is not None and tr.id == first.id and tr.pose is moved


def test_a_fast_move_without_overlap_is_still_followed() -> None:
    t = _tracker()
    a = t.update([pose_at(STAND, scale=0.3)], W, H)
    b = t.update([pose_at(STAND, dx=120, scale=0.3)], W, H)  # boxes no longer overlap
    assert a is not None and b is not None and b.id == a.id


def test_after_leaving_a_new_visitor_gets_a_new_track() -> None:
    t = _tracker(max_missing=2)
    a = t.update([pose_at(STAND)], W, H)
    assert t.update([], W, H) is None and t.track is not None  # a dropped frame: still tracked
    assert t.update([], W, H) is None
    assert t.update([], W, H) is None and t.track is None  # gone
    b = t.update([pose_at(STAND)], W, H)
    assert a is not None and b is not None and b.id != a.id


def test_weak_poses_are_not_visitors() -> None:
    t = _tracker()
    assert t.update([pose_at(STAND, score=0.2)], W, H) is None
    few = np.full(17, 0.1, np.float32)
    few[:5] = 0.9
    assert t.update([Pose(STAND, few, 0.5)], W, H) is None


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9


def test_step_back_when_the_body_is_cut_off() -> None:
    full = pose_at(STAND)
    assert not body_cut_off(full, W, H, 0.3)
    at_edge = pose_at(STAND, dy=H - 1000 - 2)  # ankles at the bottom edge
    assert body_cut_off(at_edge, W, H, 0.3)


def _without(pose: Pose, keypoints: list[int]) -> Pose:
    scores = pose.scores.copy()
    scores[keypoints] = 0.05
    return Pose(pose.xy, scores)


@pytest.mark.parametrize("dy, hidden, cut", [
    (0, [15, 16], False),  # ankles merely unsure, the frame has room for the feet: no hint
    (300, [15, 16], True),  # knees low in the frame, no ankles: the feet are below the edge
    (0, [0, 1, 2, 3, 4], False),  # no head, but room above the shoulders (turned away)
    (-180, [0, 1, 2, 3, 4], True),  # shoulders near the top, no head: the head is cut off
    (0, [0, 1, 2, 3, 4, 5, 6], True),  # neither head nor shoulders
    (0, [11, 12, 13, 14, 15, 16], True),  # no hips, knees or ankles
])
def test_step_back_from_where_the_body_meets_the_edges(dy: float, hidden: list[int], cut: bool) -> None:
    assert body_cut_off(_without(pose_at(STAND, dy=dy), hidden), W, H, 0.3) is cut
