"""The calm benchmark runs the kiosk's own path (Perceiver) and counts what a visitor sees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kiosk.app.evalcalm import held_poses, simulate
from kiosk.app.service.config import MatchConfig
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.scales import MARGINS, ScaleCycle
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, FakeIndex, arms_up, pose_at, squat


def _hold(xy: np.ndarray, rng: np.random.Generator, n: int = 30) -> list[Pose | None]:
    return [Pose(xy + rng.normal(0.0, 3.0, xy.shape), np.full(17, 0.9)) for _ in range(n)]


def test_held_poses_moves_and_a_pose_the_archive_does_not_hold(tmp_path: Path) -> None:
    index = FakeIndex(tmp_path, [pose_at(p) for p in (STAND, squat(1.0))])
    odd = arms_up()  # not in the archive: beyond max_distance of both entries
    rng = np.random.default_rng(0)
    holds = [_hold(STAND, rng), _hold(squat(1.0), rng), _hold(odd, rng), _hold(STAND, rng)]
    # uncalibrated fake index: raw distances
    match = MatchConfig(max_distance=0.2, hysteresis_margin=0.1, tie_margin=0.0)
    stats = simulate(index, "cosine", holds, 10.0, match, (720, 1280))
    # the person filter confirms the visitor on the third pose; every hold is answered at once
    assert stats.holds == 4 and stats.max_changes_per_hold == 0 and stats.holds_over_one == 0
    assert (stats.real_moves, stats.real_moves_answered) == (3, 1.0)  # stand, squat, stand again
    assert (stats.moves, stats.moves_answered) == (1, 1.0)  # photo to photo: stand -> squat
    assert stats.held == 3 and stats.blank_when_held == 0.0
    # no photo: the first two poses, the odd hold once "no good match" persisted 0.3 s, and the
    # first pose of the stand after it (a photo replaces "no good match" on its second pose)
    assert stats.blank_frames == pytest.approx((2 + 27 + 1) / 120)


def test_a_hold_that_changes_twice_is_counted(tmp_path: Path) -> None:
    index = FakeIndex(tmp_path, [pose_at(p) for p in (STAND, squat(1.0))])
    rng = np.random.default_rng(1)
    restless = _hold(STAND, rng, 10) + _hold(squat(1.0), rng, 10) + _hold(STAND, rng, 10)
    match = MatchConfig(max_distance=0.2, hysteresis_margin=0.1, tie_margin=0.0)
    stats = simulate(index, "cosine", [_hold(STAND, rng), restless], 10.0, match, (720, 1280))
    assert (stats.max_changes_per_hold, stats.holds_over_one) == (2, 1)


def test_a_recording_without_a_visitor_reports_no_shares(tmp_path: Path) -> None:
    """Nobody in any hold: no move to answer, no hold the archive holds; the shares are None
    (JSON null, "-" in the report), never NaN, which strict JSON cannot carry."""
    index = FakeIndex(tmp_path, [pose_at(STAND)])
    match = MatchConfig(max_distance=0.2, hysteresis_margin=0.1, tie_margin=0.0)
    stats = simulate(index, "cosine", [[None] * 10, [None] * 10], 10.0, match, (720, 1280))
    assert (stats.moves, stats.real_moves, stats.held, stats.blank_frames) == (0, 0, 0, 1.0)
    shares = stats.to_dict()
    assert shares["moves_answered_300ms"] is shares["real_moves_answered_300ms"] is None
    assert shares["blank_when_held"] is None
    json.dumps(shares, allow_nan=False)


@pytest.mark.parametrize("scales", [None, ScaleCycle()])
def test_held_poses_are_estimated_at_the_kiosks_cycled_sizes(scales: ScaleCycle | None) -> None:
    frame = np.zeros((120, 90, 3), np.uint8)

    def sees_the_middle(rgb: np.ndarray) -> list[Pose]:  # a person in the frame's middle
        return [pose_at(STAND * 0.05, rgb.shape[1] / 2 - 19.0, rgb.shape[0] / 2 - 30.0)]

    model = FakePoseModel(sees_the_middle)
    holds = held_poses([frame, frame], model, fps=2.0, hold_s=2.0, scales=scales)
    assert [len(h) for h in holds] == [4, 4]
    sizes = {shape[:2] for shape in model.frames}
    assert len(sizes) == (len(MARGINS) if scales else 1)
    first = holds[0][0]
    assert first is not None
    for pose in (p for h in holds for p in h):
        assert pose is not None
        np.testing.assert_allclose(pose.xy, first.xy, atol=1e-3)  # each size mapped back
