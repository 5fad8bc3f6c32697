from __future__ import annotations

import numpy as np
import pytest

from kiosk.pose.types import FLIP_INDEX, KEYPOINT_NAMES, SKELETON, Pose


def make_pose(seed: int = 0, score: float = float("nan")) -> Pose:
    rng = np.random.default_rng(seed)
    return Pose(rng.uniform(0, 100, (17, 2)), rng.uniform(0, 1, 17), score)


def test_arrays_are_frozen_copies() -> None:
    xy = np.zeros((17, 2))
    pose = Pose(xy, np.ones(17))
    xy[0, 0] = 5
    assert pose.xy[0, 0] == 0
    assert pose.xy.dtype == np.float32 and pose.scores.dtype == np.float32
    with pytest.raises(ValueError):
        pose.xy[0, 0] = 1


@pytest.mark.parametrize(
    ("xy", "scores", "message"),
    [
        (np.zeros((16, 2)), np.ones(17), "shape"),
        (np.zeros((17, 3)), np.ones(17), "shape"),
        (np.zeros((17, 2)), np.ones(16), "shape"),
        (np.full((17, 2), np.nan), np.ones(17), "NaN"),
        (np.zeros((17, 2)), np.full(17, 2.0), r"\[0, 1\]"),
    ],
)
def test_rejects_invalid(xy: np.ndarray, scores: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pose(xy, scores)


def test_score_defaults_to_mean() -> None:
    pose = Pose(np.zeros((17, 2)), np.linspace(0, 1, 17))
    assert pose.score == pytest.approx(0.5)


def test_flip_swaps_sides_and_is_an_involution() -> None:
    pose = make_pose(1)
    flipped = pose.flipped(200)
    left_shoulder, right_shoulder = KEYPOINT_NAMES.index("left_shoulder"), 6
    assert flipped.xy[right_shoulder, 0] == pytest.approx(200 - pose.xy[left_shoulder, 0])
    assert flipped.scores[right_shoulder] == pose.scores[left_shoulder]
    back = flipped.flipped(200)
    np.testing.assert_allclose(back.xy, pose.xy, atol=1e-4)
    np.testing.assert_array_equal(back.scores, pose.scores)


def test_flip_index_and_skeleton_are_consistent() -> None:
    assert sorted(FLIP_INDEX) == list(range(17))
    assert all(FLIP_INDEX[FLIP_INDEX[i]] == i for i in range(17))
    assert all(0 <= a < 17 and 0 <= b < 17 for a, b in SKELETON)


def test_bbox_uses_confident_points() -> None:
    xy = np.zeros((17, 2))
    xy[:, 0] = np.arange(17)
    xy[:, 1] = np.arange(17) * 2
    scores = np.zeros(17)
    scores[2:5] = 0.9
    pose = Pose(xy, scores)
    assert pose.bbox(0.5) == (2.0, 4.0, 4.0, 8.0)
    assert pose.bbox() == (0.0, 0.0, 16.0, 32.0)


@pytest.mark.parametrize("turns", [0, 1, 2, 3, 4])
def test_rotate_four_times_is_identity(turns: int) -> None:
    pose = make_pose(2)
    w, h = 100.0, 60.0
    rotated = pose.rotated90(w, h, turns)
    size = (w, h) if turns % 2 == 0 else (h, w)
    back = rotated.rotated90(*size, turns=(4 - turns) % 4)
    np.testing.assert_allclose(back.xy, pose.xy, atol=1e-4)


def test_dict_round_trip() -> None:
    pose = make_pose(3, score=0.75)
    again = Pose.from_dict(pose.to_dict())
    np.testing.assert_allclose(again.xy, pose.xy, atol=1e-3)
    np.testing.assert_allclose(again.scores, pose.scores, atol=1e-6)
    assert again.score == pytest.approx(0.75)
    assert [k["name"] for k in pose.to_dict()["keypoints"]] == list(KEYPOINT_NAMES)
