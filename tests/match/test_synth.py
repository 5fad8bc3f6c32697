from __future__ import annotations

import numpy as np

from kiosk.match.synth import synth_poses, synth_vectors
from kiosk.pose.types import KEYPOINT_INDEX as K


def test_shapes_ranges_and_determinism() -> None:
    xy, sc = synth_poses(500, 1)
    assert xy.shape == (500, 17, 2) and sc.shape == (500, 17)
    assert xy.dtype == sc.dtype == np.float32
    assert np.isfinite(xy).all() and (sc >= 0).all() and (sc <= 1).all()
    again = synth_poses(500, 1)
    np.testing.assert_array_equal(xy, again[0])
    assert not np.array_equal(xy, synth_poses(500, 2)[0])


def test_poses_are_plausible_bodies() -> None:
    xy, sc = synth_poses(2000, 3)
    height = np.ptp(xy[..., 1], axis=1)
    assert 60 < np.median(height) < 800
    # the head is above the hips, shoulders above the knees, in upright-ish poses
    nose_y, hip_y = xy[:, K["nose"], 1], xy[:, [K["left_hip"], K["right_hip"]], 1].mean(1)
    assert (nose_y < hip_y).mean() > 0.95
    # the left shoulder is on the image's right for most (camera-facing) people
    assert (xy[:, K["left_shoulder"], 0] > xy[:, K["right_shoulder"], 0]).mean() > 0.6
    # forearms are about as long as upper arms (articulated, not random points)
    upper = np.linalg.norm(xy[:, K["left_elbow"]] - xy[:, K["left_shoulder"]], axis=1)
    fore = np.linalg.norm(xy[:, K["left_wrist"]] - xy[:, K["left_elbow"]], axis=1)
    ok = (sc[:, [K["left_elbow"], K["left_wrist"]]] > 0.3).all(1)
    assert 0.5 < np.median(fore[ok] / np.maximum(upper[ok], 1e-6)) < 1.5


def test_occluded_keypoints_have_low_confidence() -> None:
    _, sc = synth_poses(3000, 4)
    low = sc < 0.2
    assert 0.05 < low.mean() < 0.3
    assert low[:, 13:].mean() > low[:, :5].mean()  # legs are cut off more often than heads
    assert ((sc >= 0.4) | (sc <= 0.15)).all()


def test_vectors_are_normalised_and_varied() -> None:
    v, c = synth_vectors(1000, 5)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert c.shape == (1000, 17)
    d = np.linalg.norm(v[:500] - v[500:], axis=1)
    assert 0.15 < np.median(d) < 0.7  # as varied as real poses, not near-duplicates
