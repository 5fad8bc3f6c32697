"""Only people are visitors: body geometry, size and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.app.mirror.plausibility import PersonFilter, person_problem
from kiosk.app.mirror.tracking import MainPersonTracker
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, pose_at


def _pose(xy: np.ndarray, scores: np.ndarray | None = None) -> Pose:
    return Pose(xy, np.full(17, 0.9) if scores is None else scores)


def test_a_standing_person_is_plausible() -> None:
    assert person_problem(pose_at(STAND), 640, 480) is None


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: _pose(np.tile([[300.0, 200.0]], (17, 1))), "too small"),  # one point
    (lambda: _pose(STAND * 0.1 + 300), "too small"),
    (lambda: _pose(np.asarray(STAND), np.r_[np.full(5, 0.9), 0.0, 0.0, np.full(10, 0.9)]), "no shoulders"),
    (lambda: _pose(np.where(np.arange(17)[:, None] == 9, [1900.0, 300.0], STAND)), "proportions"),
    (lambda: _pose(np.asarray(STAND) * [1.0, 6.0] - [0, 900]), "hips on one point"),
])
def test_things_that_are_not_people_are_refused(make, reason: str) -> None:
    problem = person_problem(make(), 640, 2000)
    assert problem is not None and reason in problem


def test_a_person_filter_waits_for_frames_in_a_row() -> None:
    f = PersonFilter(frames=3)
    good, bad = pose_at(STAND), _pose(np.tile([[300.0, 200.0]], (17, 1)))
    assert [f.accept(1, good, 640, 480) for _ in range(2)] == [False, False]
    assert not f.accept(1, bad, 640, 480)  # not yet confirmed: counting starts again
    assert [f.accept(1, good, 640, 480) for _ in range(3)] == [False, False, True]
    assert f.accept(1, bad, 640, 480)  # confirmed: an odd frame (a squat, a turn) keeps the visitor
    assert not f.accept(2, good, 640, 480)  # a new track starts from zero


def test_the_tracker_reports_a_new_visitor_once_confirmed() -> None:
    t = MainPersonTracker(min_pose_score=0.1, keypoint_threshold=0.3, min_confident_keypoints=5,
                          person_filter=PersonFilter(frames=2))
    chair = _pose(np.tile([[300.0, 200.0]], (17, 1)))
    assert t.update([chair], 640, 480) is None and t.track is None  # never a candidate
    assert t.update([pose_at(STAND)], 640, 480) is None  # first frame: not yet
    track = t.update([pose_at(STAND)], 640, 480)
    assert track is not None and track.id == t.track.id


def test_real_people_pass_on_real_photos(shared_dir, models_dir) -> None:
    from kiosk.gallery.extract import dominant
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.images import load_image

    model = load_pose_model("movenet-lightning", delegate="cpu", models_dir=models_dir)
    for name in ("tennis_standing.jpg", "backpackman.jpg", "frisbee.jpg"):
        rgb = load_image(shared_dir / "data/posenet-demo-images" / name)
        pose = dominant(model.estimate(rgb), 0.2)
        assert pose is not None and person_problem(pose, rgb.shape[1], rgb.shape[0]) is None, name
