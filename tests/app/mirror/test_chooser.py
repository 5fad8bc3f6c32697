"""The chooser: calm on a held pose, quick on a real move, every metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.app.mirror.chooser import make_chooser
from kiosk.app.mirror.hysteresis import NO_MATCH, Target
from kiosk.app.service.config import MatchConfig
from kiosk.match.metrics import METRICS
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, FakeIndex, arms_up, pose_at, squat


def _jittered(xy: np.ndarray, rng: np.random.Generator) -> Pose:
    return Pose(np.asarray(xy) + rng.normal(0.0, 4.0, (17, 2)), np.full(17, 0.9))


@pytest.fixture
def index(tmp_path: Path) -> FakeIndex:
    archive = [STAND, squat(1.0), arms_up(), squat(0.5), np.asarray(STAND) + np.array([40.0, 0.0])]
    return FakeIndex(tmp_path, [pose_at(p) for p in archive])


@pytest.mark.parametrize("metric", METRICS)
def test_a_held_pose_keeps_its_photo_and_a_move_changes_it(index: FakeIndex, metric: str) -> None:
    # the fake index is uncalibrated: distances are raw, so the margins are raw too
    chooser = make_chooser(index, metric, MatchConfig(max_distance=1.5, hysteresis_margin=0.05,
                                                      hysteresis_frames=3, tie_margin=0.0))
    rng = np.random.default_rng(0)
    held = [chooser.update(_jittered(STAND, rng), t / 10) for t in range(30)]
    assert held[0].target.entry in (0, 4) and sum(d.changed for d in held[1:]) <= 1
    moved = [chooser.update(_jittered(arms_up(), rng), 3.0 + t / 10) for t in range(10)]
    first = next(i for i, d in enumerate(moved) if d.changed)
    assert first <= 3 and moved[-1].target == Target.photo(2)  # within 300 ms at 10 poses a second


def test_nothing_close_enough_is_no_match(index: FakeIndex) -> None:
    chooser = make_chooser(index, "cosine", MatchConfig(max_distance=1e-6, hysteresis_frames=1,
                                                        hysteresis_s=0.0))
    bent = np.asarray(arms_up()) + np.where(np.arange(17)[:, None] == 9, [200.0, 150.0], 0.0)
    assert chooser.update(pose_at(bent), 0.0).target == NO_MATCH
