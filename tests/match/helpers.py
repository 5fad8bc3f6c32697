"""Comparing tree answers with brute force: exact up to float rounding, ties by lower id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TOL = 1e-5


def synth_archive(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """(n, 17, 3) keypoints (x, y, score): synthetic poses times scale, about 15 % of the
    keypoints unseen (score 0.01) at random."""
    from kiosk.match.synth import synth_poses

    rng = np.random.default_rng(seed)
    xy, _ = synth_poses(n, seed=seed)
    sc = np.where(rng.random((n, 17)) < 0.15, 0.01, 0.9)
    return np.concatenate([xy * scale, sc[..., None]], axis=2).astype(np.float32)


def profile_searches(root: Path, kp: np.ndarray) -> tuple[Any, Any]:
    """The archive kp's visible index written under root: (the trees' search, the exhaustive one)."""
    from kiosk.gallery.visible_index import VisibleSearch, write_visible

    write_visible(root, kp)
    return VisibleSearch(root, kp, stored=True), VisibleSearch(root, kp, stored=False)


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
