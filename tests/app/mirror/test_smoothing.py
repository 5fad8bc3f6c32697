"""One Euro filter on keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.app.mirror.smoothing import OneEuroFilter, PoseSmoother, carry
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, pose_at


def test_constant_input_passes_unchanged() -> None:
    f = OneEuroFilter(1.0, 0.05, 1.0)
    x = STAND.astype(np.float64)
    for i in range(10):
        out = f(x, i / 30)
    assert np.allclose(out, x)


def test_jitter_is_reduced() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter(1.0, 0.0, 1.0)
    noisy, smooth = [], []
    for i in range(200):
        x = STAND + rng.normal(0, 4, STAND.shape)
        noisy.append(x)
        smooth.append(f(x, i / 30))
    assert np.std(np.array(smooth[50:]) - STAND) < 0.5 * np.std(np.array(noisy[50:]) - STAND)


def test_speed_lowers_the_lag() -> None:
    def lag(beta: float) -> float:
        f = OneEuroFilter(1.0, beta, 1.0)
        for i in range(60):  # a steady move at 300 px/s
            out = f(np.array([[10.0 * i, 0.0]]), i / 30)
        return 10.0 * 59 - out[0, 0]

    assert lag(0.5) < 0.5 * lag(0.0)
    assert lag(0.0) > 0


def test_same_timestamp_changes_nothing() -> None:
    f = OneEuroFilter()
    a = f(np.array([1.0, 2.0]), 1.0)
    b = f(np.array([50.0, 60.0]), 1.0)
    assert np.array_equal(a, b)


def test_pose_smoother_restarts_for_a_new_person() -> None:
    s = PoseSmoother(1.0, 0.0, 1.0)
    s(pose_at(STAND), track_id=1, t=0.0)
    moved = s(pose_at(STAND, dx=100), track_id=1, t=1 / 30)
    assert moved.xy[0, 0] < STAND[0, 0] + 100 - 1  # smoothed: lags behind
    new = s(pose_at(STAND, dx=100), track_id=2, t=2 / 30)
    assert np.allclose(new.xy, pose_at(STAND, dx=100).xy)  # no memory of the last visitor
    off = PoseSmoother(1.0, 0.0, 1.0, enabled=False)
    p = pose_at(STAND, dx=3)
    assert off(p, 1, 0.0) is p


@pytest.mark.parametrize(("dt", "max_dt", "moved"), [
    (0.1, 0.2, 0.1),  # carried to the displayed frame's time
    (0.5, 0.2, 0.2),  # never more than max_dt ahead
    (-0.1, 0.2, 0.0),  # a displayed frame older than the pose: as it is
    (0.1, 0.0, 0.0),  # carrying switched off
])
def test_carry_moves_the_pose_on_at_its_speed(dt: float, max_dt: float, moved: float) -> None:
    pose = Pose(np.full((17, 2), 100.0), np.full(17, 0.9))
    velocity = np.tile([50.0, -20.0], (17, 1))  # px/s
    out = carry(pose, velocity, dt, max_dt)
    assert np.allclose(out.xy, pose.xy + velocity * moved)
    assert np.array_equal(out.scores, pose.scores)
    assert carry(pose, None, dt, max_dt) is pose  # no speed known (smoothing off): as it is
