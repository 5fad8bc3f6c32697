from __future__ import annotations

import numpy as np
import pytest

from kiosk.match import cosine_distance, cosine_similarity, weighted_distance
from tests.match.conftest import synth, unit_vectors


def test_cosine_distance_is_euclidean_between_unit_vectors() -> None:
    a = unit_vectors(1, 1)[0]
    b = unit_vectors(100, 2)
    np.testing.assert_allclose(cosine_distance(a, b), np.linalg.norm(b - a, axis=1), atol=1e-6)
    cos = cosine_similarity(a, b)
    np.testing.assert_allclose(cosine_distance(a, b), np.sqrt(2 * (1 - cos)), atol=1e-7)


@pytest.mark.parametrize(("a", "b", "cos", "dist"), [
    ([1, 0], [1, 0], 1.0, 0.0),
    ([1, 0], [0, 1], 0.0, np.sqrt(2)),
    ([1, 0], [-1, 0], -1.0, 2.0),
    ([3, 4], [6, 8], 1.0, 0.0),  # scale invariant
    ([0, 0], [1, 0], 0.0, np.sqrt(2)),  # a zero vector is orthogonal to everything
])
def test_cosine_table(a, b, cos: float, dist: float) -> None:
    assert cosine_similarity(np.array(a, float), np.array(b, float)) == pytest.approx(cos)
    assert cosine_distance(np.array(a, float), np.array(b, float)) == pytest.approx(dist)
    assert isinstance(cosine_distance(np.array(a, float), np.array(b, float)), float)


def test_weighted_distance_matches_the_move_mirror_formula() -> None:
    v, c = synth(20, 3)
    q, qc = v[0].astype(np.float64), c[0].astype(np.float64)
    for g in v[1:]:
        expect = sum(qc[k] * (abs(q[2 * k] - g[2 * k]) + abs(q[2 * k + 1] - g[2 * k + 1]))
                     for k in range(17)) / qc.sum()
        assert weighted_distance(q, qc, g) == pytest.approx(expect, rel=1e-6)
    batch = weighted_distance(q, qc, v[1:])
    assert batch.shape == (19,)
    assert weighted_distance(q, qc, q) == 0.0


def test_weighted_distance_zero_confidence_is_uniform_not_nan() -> None:
    v, _ = synth(2, 4)
    d = weighted_distance(v[0], np.zeros(17), v[1])
    assert np.isfinite(d)
    assert d == pytest.approx(np.abs(v[0] - v[1]).sum() / 17, rel=1e-6)


def test_weighted_distance_ignores_confidence_scale() -> None:
    v, c = synth(3, 5)
    assert weighted_distance(v[0], c[0], v[1]) == pytest.approx(
        weighted_distance(v[0], 3 * c[0], v[1]), rel=1e-6)


@pytest.mark.parametrize(("q", "c", "g"), [
    (np.zeros(33), np.ones(17), np.zeros(34)),
    (np.zeros(34), np.ones(16), np.zeros(34)),
    (np.zeros(34), np.full(17, np.nan), np.zeros(34)),
])
def test_weighted_distance_rejects_bad_shapes(q, c, g) -> None:
    with pytest.raises(ValueError):
        weighted_distance(q, c, g)
