from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.match import VPTree, flip_vector, weighted_distance
from kiosk.match.brute import brute_euclidean, brute_weighted
from tests.match.conftest import synth, unit_vectors
from tests.match.helpers import assert_exact


def fixture_ok(n: int) -> settings:
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def check_cosine(tree: VPTree, vectors: np.ndarray, queries: np.ndarray, k: int,
                 max_distance: float = np.inf) -> None:
    ids, d = tree.search(queries, k=k, max_distance=max_distance)
    q = np.atleast_2d(queries).astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ref = brute_euclidean(vectors, q, k, max_distance)
    assert_exact(ids, d, *ref, lambda m, i: float(np.linalg.norm(q[m] - vectors[i])))


def check_weighted(tree: VPTree, vectors: np.ndarray, queries: np.ndarray, conf: np.ndarray,
                   k: int, max_distance: float = np.inf) -> None:
    ids, d = tree.search_weighted(queries, conf, k=k, max_distance=max_distance)
    q, c = np.atleast_2d(queries), np.atleast_2d(conf)
    ref = brute_weighted(vectors, q, c, k, max_distance)
    assert_exact(ids, d, *ref, lambda m, i: float(weighted_distance(q[m], c[m], vectors[i])))


@fixture_ok(25)
@given(n=st.integers(0, 300), k=st.integers(1, 12), seed=st.integers(0, 2**16),
       leaf=st.sampled_from([2, 3, 8, 16]))
def test_random_vectors_match_brute_force(backend: str, n: int, k: int, seed: int,
                                          leaf: int) -> None:
    v = unit_vectors(n, seed, positive=seed % 2 == 0)
    tree = VPTree.build(v, seed=seed, leaf_size=leaf)
    q = unit_vectors(6, seed + 1, positive=seed % 2 == 0)
    conf = np.random.default_rng(seed).random((6, 17)).astype(np.float32)
    conf[0, :5] = 0  # some zero weights
    check_cosine(tree, v, q, k)
    check_weighted(tree, v, q, conf, k)


@pytest.fixture(scope="module")
def synth_tree() -> tuple[VPTree, np.ndarray]:
    v, _ = synth(3000, 11)
    return VPTree.build(v, seed=3), v


@fixture_ok(30)
@given(seed=st.integers(0, 2**16), k=st.sampled_from([1, 2, 5, 10, 25, 700]))
def test_synthetic_poses_match_brute_force(backend: str, synth_tree, seed: int, k: int) -> None:
    tree, v = synth_tree
    q, conf = synth(4, 1000 + seed)
    q[0] = v[seed % len(v)]  # a query that is in the gallery
    check_cosine(tree, v, q, k)
    check_weighted(tree, v, q, conf, k)


def test_real_coco_poses_match_brute_force(backend: str, coco_vectors) -> None:
    """Real poses (COCO ground truth) and their mirrors as the gallery; every real pose, with
    its real confidences (0, 0.5, 1: zero weights included), as a query."""
    v, conf = coco_vectors
    gallery = np.concatenate([v, flip_vector(v), synth(500, 12)[0]])
    tree = VPTree.build(gallery, seed=1, leaf_size=4)
    for k in (1, 3, 10):
        check_cosine(tree, gallery, v, k)
        check_weighted(tree, gallery, v, conf, k)
    _ids, d = tree.search(v, k=1)
    # a pose finds itself (or an exact duplicate: lower id wins)
    assert (d[:, 0] < 1e-6).all()


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_trees_pad_missing_results(backend: str, n: int) -> None:
    v = unit_vectors(n, n)
    tree = VPTree.build(v)
    assert len(tree) == n
    assert np.isfinite(tree.pca_rot).all() and np.isfinite(tree.sketch_step).all()
    q = unit_vectors(2, 99)
    for ids, d in (tree.search(q, k=5), tree.search_weighted(q, np.ones((2, 17)), k=5)):
        assert ids.shape == d.shape == (2, 5)
        assert (ids[:, n:] == -1).all() and np.isinf(d[:, n:]).all()
        assert (ids[:, :n] >= 0).all() and np.isfinite(d[:, :n]).all()
        assert sorted(ids[0, :n].tolist()) == list(range(n))
    check_cosine(tree, v, q, 5)


def test_duplicates_and_ties_go_to_the_lower_id(backend: str) -> None:
    base = unit_vectors(200, 5)
    v = np.concatenate([base, np.repeat(base[:3], 20, axis=0), base])  # many exact copies
    rng = np.random.default_rng(0)
    order = rng.permutation(len(v))
    v = v[order]
    tree = VPTree.build(v, leaf_size=4)
    for target in base[:5]:
        same = np.flatnonzero((v == target).all(axis=1))
        ids, d = tree.search(target, k=len(same) + 3)
        np.testing.assert_array_equal(ids[0, : len(same)], np.sort(same))
        assert (d[0, : len(same)] == d[0, 0]).all() and d[0, 0] < 1e-6  # query renormalised
        ids, d = tree.search_weighted(target, np.ones(17), k=len(same))
        np.testing.assert_array_equal(ids[0], np.sort(same))
    check_cosine(tree, v, unit_vectors(5, 6), 30)


def test_max_distance_limits_results(backend: str, synth_tree) -> None:
    tree, v = synth_tree
    q, conf = synth(5, 77)
    for radius in (0.0, 0.05, 0.15, 0.3):
        check_cosine(tree, v, q, 10, radius)
        check_weighted(tree, v, q, conf, 10, radius / 10)
    ids, d = tree.search(q, k=3, max_distance=-1.0)
    assert (ids == -1).all() and np.isinf(d).all()


def test_build_is_deterministic_for_a_seed(backend: str, tmp_path) -> None:
    v, _ = synth(1500, 13)
    a = VPTree.build(v, seed=7).save(tmp_path / "a.vpt").read_bytes()
    b = VPTree.build(v, seed=7).save(tmp_path / "b.vpt").read_bytes()
    assert a == b
    c = VPTree.build(v, seed=8)
    assert not np.array_equal(c.tree_ids, VPTree.load(tmp_path / "a.vpt").tree_ids)
    check_cosine(c, v, synth(3, 14)[0], 4)


def test_numba_and_numpy_give_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    v, _ = synth(2000, 15)
    q, conf = synth(20, 16)
    monkeypatch.setenv("KIOSK_NO_NUMBA", "0")
    tree = VPTree.build(v)
    fast = tree.search(q, k=5), tree.search_weighted(q, conf, k=5)
    monkeypatch.setenv("KIOSK_NO_NUMBA", "1")
    slow = tree.search(q, k=5), tree.search_weighted(q, conf, k=5)
    slow_tree = VPTree.build(v)  # built by the fallback: same answers
    slow2 = slow_tree.search(q, k=5), slow_tree.search_weighted(q, conf, k=5)
    for (fi, fd), (si, sd), (ti, td) in zip(fast, slow, slow2, strict=True):
        np.testing.assert_array_equal(fi, si)
        np.testing.assert_array_equal(fi, ti)
        np.testing.assert_allclose(fd, sd, atol=1e-6)
        np.testing.assert_allclose(fd, td, atol=1e-6)


@pytest.mark.parametrize("n", [0, 5])
def test_warm_up(backend: str, n: int) -> None:
    VPTree.build(unit_vectors(n, 3)).warm_up()


def test_vectors_are_in_id_order(synth_tree) -> None:
    tree, v = synth_tree
    np.testing.assert_array_equal(tree.vectors, v)
    np.testing.assert_array_equal(tree.vector(17), v[17])
    assert tree.vectors.shape == (len(tree), 34)


def test_positions_invert_the_tree_order(synth_tree) -> None:
    tree, v = synth_tree
    pos = tree.positions()
    np.testing.assert_array_equal(np.asarray(tree.tree_ids)[pos], np.arange(len(tree)))
    np.testing.assert_array_equal(np.asarray(tree.tree_vectors)[pos], v)
    assert not pos.flags.writeable and tree.positions() is pos


def test_weighted_accepts_keypoints_and_normalises_them(synth_tree) -> None:
    from kiosk.match import normalize_xy
    from kiosk.match.synth import synth_poses

    tree, _v = synth_tree
    xy, sc = synth_poses(3, 21)
    a = tree.search_weighted(xy, sc, k=3)
    b = tree.search_weighted(normalize_xy(xy, sc), sc, k=3)
    np.testing.assert_array_equal(a[0], b[0])
    single = tree.search_weighted(xy[0], sc[0], k=3)
    np.testing.assert_array_equal(single[0], a[0][:1])


@pytest.mark.parametrize(("call", "message"), [
    (lambda t: t.search(np.ones(33)), "shape"),
    (lambda t: t.search(np.ones((2, 3, 34))), "shape"),
    (lambda t: t.search(np.full(34, np.nan)), "NaN"),
    (lambda t: t.search(np.zeros(34)), "zero"),
    (lambda t: t.search(np.ones(34), k=0), "k must"),
    (lambda t: t.search(np.ones(34), k=1.5), "k must"),
    (lambda t: t.search(np.ones(34), max_distance=float("nan")), "NaN"),
    (lambda t: t.search_weighted(np.ones(34), np.ones(16)), "query_conf"),
    (lambda t: t.search_weighted(np.ones(34), -np.ones(17)), "query_conf"),
    (lambda t: t.search_weighted(np.full(34, np.inf), np.ones(17)), "NaN"),
    (lambda t: t.search_weighted(np.ones((3, 34)), np.ones((2, 17))), "query_conf"),
])
def test_bad_queries_are_refused(synth_tree, call, message: str) -> None:
    tree, _ = synth_tree
    with pytest.raises(ValueError, match=message):
        call(tree)


@pytest.mark.parametrize(("vectors", "kwargs", "message"), [
    (np.ones((5, 34), np.float32), {}, "L2-normalised"),
    (np.full((5, 34), np.nan, np.float32), {}, "NaN"),
    (np.ones(34, np.float32), {}, "shape"),
    (unit_vectors(5), {"metric": "weighted"}, "metric"),
    (unit_vectors(5), {"leaf_size": 1}, "leaf_size"),
])
def test_bad_builds_are_refused(vectors, kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VPTree.build(vectors, **kwargs)
