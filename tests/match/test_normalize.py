from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kiosk.match import POINT_POSE, flip_vector, normalize_xy, pose_vector, weighted_layout
from kiosk.match.synth import synth_poses
from kiosk.pose.types import FLIP_INDEX, Pose

coords = arrays(np.float64, (17, 2), elements=st.floats(-1e4, 1e4, allow_nan=False))
confs = arrays(np.float64, (17,), elements=st.floats(0, 1))
#: whole pixels of a 640-wide image (exact in float32, so mirroring loses nothing)
pixels = arrays(np.float64, (17, 2), elements=st.integers(0, 639).map(float))


def pose_xy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    xy, _sc = synth_poses(1, seed)
    return xy[0].astype(np.float64), np.ones(17)


@given(coords, confs)
@settings(max_examples=300, deadline=None)
def test_never_nan_always_unit_and_non_negative(xy: np.ndarray, sc: np.ndarray) -> None:
    v = normalize_xy(xy, sc)
    assert v.shape == (34,) and v.dtype == np.float32
    assert np.isfinite(v).all()
    assert abs(np.linalg.norm(v) - 1) < 1e-5
    assert (v >= 0).all()


def test_interleaved_layout_and_bbox_crop() -> None:
    xy = np.zeros((17, 2))
    xy[:, 0] = np.arange(17) + 10  # x from 10 to 26
    xy[:, 1] = 5.0
    xy[16, 1] = 21.0  # y from 5 to 21
    v = normalize_xy(xy)
    expect = np.stack([np.arange(17), np.zeros(17)], axis=1)
    expect[16, 1] = 16
    expect = expect.reshape(34) / np.linalg.norm(expect)
    np.testing.assert_allclose(v, expect, atol=1e-6)


@pytest.mark.parametrize(("scale", "dx", "dy"), [(1, 0, 0), (3.5, 0, 0), (0.01, 100, -40),
                                                 (250, -7, 7)])
def test_invariant_to_translation_and_uniform_scale(scale: float, dx: float, dy: float) -> None:
    xy, sc = pose_xy(3)
    np.testing.assert_allclose(normalize_xy(xy * scale + [dx, dy], sc), normalize_xy(xy, sc),
                               atol=2e-6)


def test_low_confidence_keypoints_are_clipped_into_the_confident_box() -> None:
    xy, sc = pose_xy(4)
    sc = sc.copy()
    wild = xy.copy()
    wild[9] = [1e4, -1e4]  # a hallucinated wrist far outside the body
    sc[9] = 0.02
    v = normalize_xy(wild, sc).reshape(17, 2)
    conf = np.delete(np.arange(17), 9)
    box_w, box_h = np.ptp(xy[conf], axis=0)
    v_conf = v[conf]
    # the wrist lies within the confident keypoints' box
    assert v[9, 0] <= v_conf[:, 0].max() + 1e-6 and v[9, 1] >= v_conf[:, 1].min() - 1e-6
    # and the rest is the same as without the wrist
    ref = normalize_xy(np.where(np.arange(17)[:, None] == 9, [xy[conf, 0].max(),
                                                                xy[conf, 1].min()], xy), sc)
    np.testing.assert_allclose(v.reshape(34), ref, atol=1e-6)
    assert box_w > 0 and box_h > 0


@pytest.mark.parametrize(
    ("name", "xy", "scores"),
    [
        ("all points equal", np.full((17, 2), 42.0), np.ones(17)),
        ("all zero", np.zeros((17, 2)), np.zeros(17)),
        ("no scores, equal", np.full((17, 2), -3.0), None),
    ],
)
def test_degenerate_pose_is_the_point_pose(name: str, xy: np.ndarray, scores) -> None:
    np.testing.assert_array_equal(normalize_xy(xy, scores), POINT_POSE)


@pytest.mark.parametrize("n_confident", [0, 1])
def test_fewer_than_two_confident_points_uses_all_points(n_confident: int) -> None:
    xy, _ = pose_xy(5)
    sc = np.zeros(17)
    sc[:n_confident] = 0.9
    np.testing.assert_allclose(normalize_xy(xy, sc), normalize_xy(xy, None), atol=1e-6)


def test_confident_points_all_equal_uses_all_points() -> None:
    xy, _ = pose_xy(6)
    xy[:3] = xy[0]
    sc = np.zeros(17)
    sc[:3] = 1.0
    np.testing.assert_allclose(normalize_xy(xy, sc), normalize_xy(xy, None), atol=1e-6)


def test_batch_equals_single() -> None:
    xy, sc = synth_poses(20, 7)
    batch = normalize_xy(xy, sc)
    assert batch.shape == (20, 34)
    for i in range(20):
        np.testing.assert_array_equal(batch[i], normalize_xy(xy[i], sc[i]))


@pytest.mark.parametrize(("xy", "scores", "message"), [
    (np.zeros((16, 2)), None, "shape"),
    (np.full((17, 2), np.nan), None, "NaN"),
    (np.zeros((2, 17, 2)), np.ones((3, 17)), "match"),
])
def test_rejects_bad_input(xy, scores, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_xy(xy, scores)


@given(pixels, confs)
@settings(max_examples=200, deadline=None)
def test_flip_vector_equals_normalising_the_mirrored_pose(xy: np.ndarray, sc: np.ndarray) -> None:
    pose = Pose(xy, sc)
    mirrored = pose.flipped(width=640.0)
    expect = normalize_xy(mirrored.xy, mirrored.scores)
    got = flip_vector(normalize_xy(pose.xy, pose.scores))
    np.testing.assert_allclose(got, expect, atol=2e-4)


def test_flip_is_an_involution_and_swaps_sides() -> None:
    xy, sc = synth_poses(50, 8)
    v = normalize_xy(xy, sc)
    np.testing.assert_allclose(flip_vector(flip_vector(v)), v, atol=1e-6)
    f = flip_vector(v[0]).reshape(17, 2)
    orig = v[0].reshape(17, 2)
    # y is only permuted (and rescaled by the common renormalisation)
    fy, oy = f[:, 1], orig[list(FLIP_INDEX), 1]
    np.testing.assert_allclose(fy / np.linalg.norm(fy), oy / np.linalg.norm(oy), atol=1e-6)
    np.testing.assert_array_equal(flip_vector(POINT_POSE), POINT_POSE)


def test_pose_vector_and_weighted_layout() -> None:
    xy, sc = synth_poses(1, 9)
    pose = Pose(xy[0], sc[0])
    vec, conf = pose_vector(pose)
    assert vec.shape == (34,) and conf.shape == (17,)
    assert vec.dtype == conf.dtype == np.float32
    np.testing.assert_array_equal(vec, normalize_xy(pose.xy, pose.scores))
    layout = weighted_layout(vec, conf)
    assert layout.shape == (52,) and layout.dtype == np.float32
    np.testing.assert_array_equal(layout[:34], vec)
    np.testing.assert_array_equal(layout[34:51], conf)
    assert layout[51] == pytest.approx(float(conf.sum()), rel=1e-6)
    assert weighted_layout(np.stack([vec, vec]), np.stack([conf, conf])).shape == (2, 52)
    with pytest.raises(ValueError):
        weighted_layout(vec, conf[:16])
