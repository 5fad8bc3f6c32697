"""The trimmed metric: visible forgiving a few misplaced keypoints; its two-stage search
against its brute-force reference; the compiled and numpy distances agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.jit import use_numba
from kiosk.gallery.visible_index import VisibleSearch
from kiosk.match import trimmed as tr
from kiosk.match.synth import synth_poses
from kiosk.match.trimmed import PENALTY, brute_trimmed, trimmed_distances, trimmed_numpy
from kiosk.match.visible import PROFILES, indices, visible_distance
from tests.match.helpers import profile_searches, synth_archive


def _poses(n: int, seed: int) -> np.ndarray:
    xy, _ = synth_poses(n, seed=seed)
    return xy.astype(np.float64)  # about 300 px tall


def _misplaced(xy: np.ndarray, keypoints: list[int], by: float = 150.0) -> np.ndarray:
    out = xy.copy()
    out[keypoints] += by
    return out


@pytest.mark.parametrize("profile", ["full", "torso_arms", "upper", "left_side"])
def test_never_farther_than_visible_and_zero_on_itself(profile: str) -> None:
    xy = _poses(30, seed=1)
    d = trimmed_distances(xy[0], xy, profile)
    v = visible_distance(xy[0], xy, profile)
    assert d[0] == pytest.approx(0.0, abs=1e-9)
    assert np.all(d <= v + 1e-6)


@pytest.mark.parametrize(("wrong", "dropped"), [([9], 1), ([9, 16], 2)])
def test_misplaced_keypoints_cost_the_penalty_not_the_pose(wrong: list[int], dropped: int) -> None:
    """The visitor's own pose with one or two keypoints misplaced stays nearer than another
    person's pose, which visible alone does not achieve."""
    xy = _poses(200, seed=2)
    query = _misplaced(xy[0], wrong, by=200.0)
    d = trimmed_distances(query, xy, "full")
    assert d[0] == pytest.approx(PENALTY * np.sqrt(dropped), abs=1e-9)
    assert d[0] < d[1:].min()
    v = visible_distance(query, xy, "full")
    assert v[0] > v[1:].min()  # visible gives the visitor someone else


def test_three_misplaced_keypoints_are_not_all_forgiven() -> None:
    xy = _poses(2, seed=4)
    query = _misplaced(xy[0], [9, 10, 16])
    assert trimmed_distances(query, xy[:1], "full")[0] > PENALTY * np.sqrt(tr.TRIM_MAX) + 0.05


def test_a_four_keypoint_profile_is_compared_whole() -> None:
    """At least MIN_SEEN keypoints always count: a 4-keypoint profile is the visible distance."""
    profile = (0, 5, 6, 7)
    xy = _poses(10, seed=5)
    np.testing.assert_allclose(trimmed_distances(xy[0], xy, profile),
                               visible_distance(xy[0], xy, profile), atol=1e-6)


def test_position_and_size_do_not_matter() -> None:
    xy = _poses(12, seed=6)
    query = _misplaced(xy[0], [4, 13], by=40.0)
    np.testing.assert_allclose(trimmed_distances(query * 2.5 + [30.0, -9.0], xy, "full"),
                               trimmed_distances(query, xy, "full"), atol=1e-9)


def test_compiled_and_numpy_distances_agree() -> None:
    rng = np.random.default_rng(7)
    xy = _poses(64, seed=7)
    for _ in range(40):
        ind = sorted(rng.choice(17, int(rng.integers(4, 14)), replace=False))
        q, g = xy[0][ind], xy[1:33][:, ind].copy()
        g[0] = q  # identical
        g[1] = 5.0  # degenerate: every keypoint at one point
        want = trimmed_numpy(q, g)
        assert np.all(np.isfinite(want))
        if use_numba():
            from kiosk.match.trimmed_kernel import trimmed_rows

            np.testing.assert_allclose(trimmed_rows(q, g, tr._steps(len(ind)), PENALTY, tr.TIE), want,
                                       atol=1e-12)


@pytest.mark.parametrize("where", ["query", "archive"])
def test_nan_coordinates_are_refused(where: str, backend: str) -> None:
    xy = _poses(3, seed=8)
    q = xy[0].copy()
    if where == "query":
        q[5] = np.nan
    else:
        xy[2, 5, 1] = np.inf
    with pytest.raises(ValueError, match="NaN"):
        trimmed_distances(q, xy, "full")


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[VisibleSearch, VisibleSearch, np.ndarray]:
    kp = synth_archive(400, seed=12)
    return (*profile_searches(tmp_path_factory.mktemp("trimmed"), kp), kp)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), k=st.sampled_from([1, 3, 8]), hide=st.floats(0.0, 0.6),
       wrong=st.integers(0, 3))
def test_search_matches_its_brute_force_reference(stored, seed: int, k: int, hide: float,
                                                  wrong: int) -> None:
    tree, exhaustive, kp = stored
    rng = np.random.default_rng(seed)
    q = kp[int(rng.integers(len(kp)))].copy()
    q[:, :2] += rng.normal(0.0, 4.0, (17, 2))
    q[rng.choice(17, wrong, replace=False), :2] += 120.0
    q[:, 2] = np.where(rng.random(17) < hide, 0.01, 0.9)
    profile, ids, dist = brute_trimmed(kp[:, :, :2], kp[:, :, 2], q[:, :2], q[:, 2], k)
    for search in (tree, exhaustive):
        got_p, got_ids, got_d = search.search(q[:, :2], q[:, 2], k, trimmed=True)
        assert got_p == profile
        np.testing.assert_allclose(got_d, dist, atol=1e-5)
        if np.isfinite(dist).any():  # the same ids, except among ties at the k-th distance
            inner = dist < dist[np.isfinite(dist)].max() - 1e-5
            assert set(got_ids[inner]) == set(ids[inner])
        if profile is not None and got_ids[0] >= 0:
            assert search.distance(q[:, :2], profile, int(got_ids[0]), trimmed=True) == \
                pytest.approx(got_d[0], abs=1e-5)


def test_max_distance_cuts_after_the_reranking(stored) -> None:
    tree, _, kp = stored
    whole = int(np.nonzero((kp[:, indices("full"), 2] >= 0.05).all(axis=1))[0][0])
    q = kp[whole].copy()
    q[:, 2] = 0.9
    q[9, :2] += 200.0  # far under visible, near under trimmed
    _, ids, d = tree.search(q[:, :2], q[:, 2], 3, trimmed=True)
    assert ids[0] == whole and d[0] == pytest.approx(PENALTY, abs=1e-4)
    _, cut_ids, cut_d = tree.search(q[:, :2], q[:, 2], 3, max_distance=d[0] + 1e-6, trimmed=True)
    assert cut_ids[0] == whole and np.all(cut_ids[1:] == -1) and np.all(np.isinf(cut_d[1:]))


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_stored_profile_keeps_min_seen(profile: str) -> None:
    assert len(indices(profile)) - tr._steps(len(indices(profile))) >= 4


def test_tied_residuals_drop_the_same_keypoint_in_both_implementations() -> None:
    """Poses on a coarse integer grid tie residuals exactly; numpy and the compiled kernel round
    differently in the last bits, and must still drop the same keypoint."""
    if not use_numba():
        pytest.skip("numba is not installed: only the numpy distance exists")
    from kiosk.match.trimmed_kernel import trimmed_rows

    rng = np.random.default_rng(21)
    for n in (6, 13):  # with TIE = 0 some of these differ, by up to 0.18
        q = rng.integers(0, 2, (3000, n, 2)).astype(np.float64)
        g = rng.integers(0, 2, (3000, 1, n, 2)).astype(np.float64)
        for a, b in zip(q, g, strict=True):
            np.testing.assert_allclose(trimmed_rows(a, b, tr._steps(n), PENALTY, tr.TIE),
                                       trimmed_numpy(a, b), atol=1e-9)


def _real_queries(xy: np.ndarray, sc: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n queries from real poses: jittered, some keypoints misplaced, some hidden (waist-up)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(xy), size=n)
    q = xy[pick].astype(np.float64) + rng.normal(0.0, 3.0, (n, 17, 2))
    s = np.where(sc[pick] > 0, 0.9, 0.01)
    for i in range(n):
        q[i, rng.choice(17, int(rng.integers(0, 3)), replace=False)] += rng.normal(0, 80.0, 2)
        if rng.random() < 0.3:
            s[i, 11:] = 0.01
    return q, s


def test_one_compiled_call_answers_as_the_two_stage_numpy_search(
        coco_poses, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored trees: the compiled path (tree search and re-ranking in one call, on the stored
    unit vectors) gives the numpy path's (d, ids) on real COCO poses, to float32 rounding."""
    if not use_numba():
        pytest.skip("numba is not installed: only the numpy path exists")
    xy, sc = coco_poses
    kp = np.concatenate([xy, np.where(sc > 0, 0.9, 0.01)[..., None]], axis=2).astype(np.float32)
    tree, _ = profile_searches(tmp_path, kp)
    queries, scores = _real_queries(xy, sc, 60, seed=4)
    for max_d in (np.inf, 0.25):
        answers = {}
        for flag in ("0", "1"):
            monkeypatch.setenv("KIOSK_NO_NUMBA", flag)
            answers[flag] = [tree.search(q, s, 4, max_d, trimmed=True) for q, s in
                             zip(queries, scores, strict=True)]
        for (p1, i1, d1), (p0, i0, d0) in zip(answers["0"], answers["1"], strict=True):
            assert p1 == p0
            np.testing.assert_allclose(d1, d0, atol=2e-6)
            inner = np.isfinite(d0) & (d0 < np.nanmax(np.where(np.isfinite(d0), d0, -1)) - 1e-5)
            np.testing.assert_array_equal(i1[inner], i0[inner])
            np.testing.assert_array_equal(i1 == -1, np.isinf(d1))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nonfinite_query_is_refused_by_the_stored_search(stored, bad: float, backend: str) -> None:
    tree, _, kp = stored
    q = kp[0].copy()
    q[:, 2] = 0.9
    q[7, 0] = bad
    with pytest.raises(ValueError, match="NaN"):
        tree.search(q[:, :2], q[:, 2], 2, trimmed=True)
