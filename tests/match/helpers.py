"""Comparing tree answers with brute force: exact up to float rounding, ties by lower id."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TOL = 1e-5


def assert_exact(ids: np.ndarray, dists: np.ndarray, ref_ids: np.ndarray, ref_dists: np.ndarray,
                 dist_of: Callable[[int, int], float]) -> None:
    """ids/dists (M, k) from the tree equal brute force's; where ids differ, both candidates
    must be at the same distance within TOL (a near-tie decided by float rounding)."""
    assert ids.shape == ref_ids.shape and dists.shape == ref_dists.shape
    assert ids.dtype.kind == "i" and dists.dtype == np.float64
    np.testing.assert_array_equal(ids == -1, ref_ids == -1)
    np.testing.assert_array_equal(np.isinf(dists), np.isinf(ref_dists))
    fin = np.isfinite(ref_dists)
    np.testing.assert_allclose(dists[fin], ref_dists[fin], atol=TOL, rtol=0)
    for m, r in zip(*np.nonzero(ids != ref_ids), strict=True):
        a, b = dist_of(m, int(ids[m, r])), dist_of(m, int(ref_ids[m, r]))
        assert abs(a - b) <= TOL, f"query {m} rank {r}: id {ids[m, r]} at {a}, brute {b}"
    for row in ids:
        real = row[row >= 0]
        assert len(set(real.tolist())) == len(real), "an id is returned twice"
