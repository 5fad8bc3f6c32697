"""The visible metric: normalisation on seen keypoints, profiles, exact search vs brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.gallery.visible_index import VisibleSearch, write_visible
from kiosk.match.synth import synth_poses
from kiosk.match.visible import (
    PROFILES,
    brute_visible,
    choose_profile,
    profile_vectors,
    visible_distance,
)
from tests.match.helpers import profile_searches, synth_archive


def _scores(seen: list[int]) -> np.ndarray:
    s = np.zeros(17, dtype=np.float32)
    s[seen] = 0.9
    return s


@pytest.mark.parametrize(("seen", "profile"), [
    (list(range(17)), "full"),
    ([0, 5, 6, 7, 8, 9, 10, 11, 12], "torso_arms"),  # seated, legs hidden
    ([0, 1, 2, 5, 6, 7, 8, 9, 10], "upper"),  # waist up
    ([5, 6, 7, 8, 9, 10], "upper_body"),
    ([5, 7, 9, 11, 13, 15, 6], "left_side"),
    ([0, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16], "no_left_arm"),
    ([0, 5, 6, 7, 8], (0, 5, 6, 7, 8)),  # waist up, wrists cut off: a dynamic profile
    ([0, 1, 2, 5], None),  # too little to tell poses apart
])
def test_the_largest_profile_the_pose_shows(seen: list[int], profile: str | None) -> None:
    assert choose_profile(_scores(seen)) == profile


def test_profile_vectors_are_unit_and_ignore_position_and_size() -> None:
    xy, _ = synth_poses(20, seed=3)
    for name in PROFILES:
        v = profile_vectors(xy, name)
        assert v.shape == (20, 2 * len(PROFILES[name]))
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
        moved = profile_vectors(xy * 3.5 + np.array([40.0, -7.0]), name)
        np.testing.assert_allclose(moved, v, atol=1e-5)


def test_unseen_keypoints_do_not_change_the_distance() -> None:
    """A waist-up visitor: wild guesses for the legs do not matter under 'upper'."""
    xy, _ = synth_poses(2, seed=5)
    q = xy[0].copy()
    q[11:] = [[5000.0, -300.0]] * 6
    assert visible_distance(q, xy[0], "upper") == pytest.approx(0.0, abs=1e-6)
    assert visible_distance(q, xy[1], "upper") == pytest.approx(visible_distance(xy[0], xy[1], "upper"))


def test_degenerate_poses_give_finite_vectors() -> None:
    v = profile_vectors(np.zeros((17, 2)), "full")
    assert np.all(np.isfinite(v)) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_no_poses_give_no_vectors(profile: str) -> None:
    v = profile_vectors(np.zeros((0, 17, 2)), profile)
    assert v.shape == (0, 2 * len(PROFILES[profile])) and v.dtype == np.float32


def test_an_archive_where_a_profile_has_no_entry_is_written(tmp_path) -> None:
    kp = _archive(20, seed=3)
    kp[:, 11:, 2] = 0.01  # nobody shows the legs: the whole-body profiles have no entry
    counts = write_visible(tmp_path, kp)
    assert counts["full"] == 0 and sum(counts.values()) > 0


def _archive(n: int, seed: int) -> np.ndarray:
    return synth_archive(n, seed, scale=200.0)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[VisibleSearch, VisibleSearch, np.ndarray]:
    kp = _archive(400, seed=11)
    return (*profile_searches(tmp_path_factory.mktemp("visible"), kp), kp)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), k=st.sampled_from([1, 3, 10]), hide=st.floats(0.0, 0.6))
def test_tree_search_matches_brute_force(stored, seed: int, k: int, hide: float) -> None:
    tree, exhaustive, kp = stored
    rng = np.random.default_rng(seed)
    q = _archive(1, seed + 1)[0]
    q[:, 2] = np.where(rng.random(17) < hide, 0.01, 0.9)
    profile, ids, dist = brute_visible(kp[:, :, :2], kp[:, :, 2], q[:, :2], q[:, 2], k)
    for search in (tree, exhaustive):
        got_p, got_ids, got_d = search.search(q[:, :2], q[:, 2], k)
        assert got_p == profile
        np.testing.assert_allclose(got_d, dist, atol=1e-5)
        np.testing.assert_array_equal(got_ids >= 0, ids >= 0)
        if np.isfinite(dist).any():  # the same ids, except among ties at the k-th distance
            inner = dist < dist[np.isfinite(dist)].max() - 1e-5
            assert set(got_ids[inner]) == set(ids[inner])


def test_entries_not_showing_the_profile_never_match(stored) -> None:
    tree, _, kp = stored
    q = kp[0].copy()
    q[:, 2] = 0.9
    _, ids, _ = tree.search(q[:, :2], q[:, 2], k=50)
    seen = kp[ids[ids >= 0], :, 2] >= 0.05
    assert seen[:, list(PROFILES["full"])].all()
