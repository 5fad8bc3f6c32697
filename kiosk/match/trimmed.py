"""The ``trimmed`` metric: ``visible`` that forgives a pose's few misplaced keypoints.

A pose model misplaces a keypoint or two on a single image (a wrist it cannot find, a knee
under a table, a hip guessed at the picture's edge). Under ``visible`` one such keypoint
dominates the Euclidean distance, and an archive neighbour beats the visitor's own pose.
``trimmed`` compares the same profile (kiosk.match.visible.choose_profile) but lets up to
TRIM_MAX keypoints drop out of the comparison, each counting as a residual of PENALTY:

    d(q, g) = min over t = 0..T of  sqrt(||u_t(q) - u_t(g)||^2 + t * PENALTY^2)

K_0 is the profile's keypoints; K_{t+1} is K_t without the keypoint whose residual
|u_t(q)_k - u_t(g)_k| is largest (within TIE of it: the lower keypoint index); u_t normalises a pose on
K_t only (centroid to the origin, unit L2 norm: kiosk.match.visible's normalisation);
T = min(TRIM_MAX, |P| - MIN_SEEN), so at least MIN_SEEN keypoints are always compared. The
t = 0 term is the ``visible`` distance, so d <= visible. A dropped keypoint counts as if it were
PENALTY off (a truncated quadratic, as robust fits use): a keypoint farther off than that, a
model's mistake or a real difference, weighs no more than PENALTY; a pose that is everywhere
alike pays nothing.

d is not a metric (a dropped keypoint breaks the triangle inequality), so no tree bounds it.
The search is two stages: the RERANK nearest entries under ``visible`` (its exact VP-trees),
re-ranked by d. ``brute_trimmed`` is the reference of exactly that definition; the benchmark
(`kiosk eval match`, docs/match-quality.md) measures what the first stage's cut costs.

Shapes: keypoints (17, 2) or (N, 17, 2) in (x, y) pixels (any units: d is invariant to
translation and scale); scores (17,) or (N, 17).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from kiosk.core.jit import use_numba
from kiosk.match.visible import MIN_SEEN, Profile, brute_visible, indices

if TYPE_CHECKING:
    from kiosk.match.vptree import VPTree

#: At most this many keypoints are dropped (a single image's misplaced keypoints are one to
#: three); a limb of two keypoints held differently is never free.
TRIM_MAX = 2
#: What a dropped keypoint counts as (unit-vector residual): on a whole-body profile about a
#: tenth of the body's height, the tolerance of the PCK@0.1 keypoint measure.
PENALTY = 0.1
#: Candidates the first stage (``visible``, exact) hands to the re-ranking.
RERANK = 64
#: Identifies this distance and search (stored with an index's calibration tables, which depend
#: on all of them: a stored table of another version is recomputed, kiosk.gallery.calibrate).
TRIMMED_VERSION = f"trimmed-greedy-quadratic/v1 drop<={TRIM_MAX} penalty={PENALTY} candidates={RERANK}"
#: Residuals this close to the largest count as tied for the drop (the lower keypoint goes):
#: the numpy and compiled arithmetic differ in the last bits.
TIE = 1e-9


def _unit(a: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """a (N, n, 2) normalised on the kept keypoints keep (N, n) bool: the dropped ones are 0.

    A degenerate row (all kept keypoints at one point) becomes the constant vector
    1/sqrt(2 |kept|), as kiosk.match.visible.profile_vectors does."""
    w = keep[..., None].astype(np.float64)
    count = np.maximum(w.sum(axis=1, keepdims=True), 1.0)  # (N, 1, 1)
    centred = (a - (a * w).sum(axis=1, keepdims=True) / count) * w
    norm = np.sqrt((centred ** 2).sum(axis=(1, 2)))[:, None, None]
    flat = w / np.sqrt(2.0 * count)
    return np.where(norm > 1e-12, centred / np.where(norm > 1e-12, norm, 1.0), flat)


def trimmed_distances(q_xy: np.ndarray, g_xy: np.ndarray, profile: Profile) -> np.ndarray:
    """(N,) float64 d of the query keypoints q_xy (17, 2) to each of g_xy (N, 17, >=2)
    (compiled when numba is in use, else trimmed_numpy: the same arithmetic)."""
    g_xy = np.asarray(g_xy).reshape(-1, 17, np.shape(g_xy)[-1])
    return trimmed_to(q_xy, g_xy, np.arange(len(g_xy), dtype=np.int64), profile)


def trimmed_to(q_xy: np.ndarray, keypoints: np.ndarray, ids: np.ndarray, profile: Profile
               ) -> np.ndarray:
    """(M,) float64 d of q_xy (17, 2) to the entries ids (M,) int64 of keypoints (N, 17, >=2).

    Pass the archive's own keypoints array (with ids), not a copy or a slice of it: the
    compiled kernel is specialised on the array's layout, so one archive array means one
    compilation (done by the kiosk's warm-up), never a new one while a visitor waits."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    ind = _index_array(profile)
    q = np.ascontiguousarray(np.asarray(q_xy, dtype=np.float64).reshape(17, 2)[ind])
    if not np.all(np.isfinite(q)):
        raise ValueError("xy contains NaN or infinite coordinates")
    if use_numba():
        from kiosk.match.trimmed_kernel import trimmed_gather

        return np.asarray(trimmed_gather(q, np.asarray(keypoints), ids, ind, _steps(len(ind)), PENALTY, TIE))
    g = np.asarray(keypoints[ids][:, ind, :2], dtype=np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError("xy contains NaN or infinite coordinates")
    return trimmed_numpy(q, g)


@functools.lru_cache(maxsize=256)
def _index_array(profile: Profile) -> np.ndarray:
    """The profile's keypoint indices as an int64 array (cached: a query's profile repeats)."""
    out = np.asarray(indices(profile), dtype=np.int64)
    out.flags.writeable = False
    return out


def _steps(n: int) -> int:
    """T for a profile of n keypoints: at most TRIM_MAX, never below MIN_SEEN compared."""
    return max(min(TRIM_MAX, n - MIN_SEEN), 0)


def trimmed_numpy(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The numpy reference: q (n, 2) and g (N, n, 2) float64, the profile's keypoints only."""
    n_rows, n = g.shape[:2]
    keep = np.ones((n_rows, n), dtype=bool)
    qs = np.broadcast_to(q, g.shape)
    rows = np.arange(n_rows)
    best = np.full(n_rows, np.inf)
    for t in range(_steps(n) + 1):
        residual = np.sqrt(((_unit(qs, keep) - _unit(g, keep)) ** 2).sum(axis=2))  # (N, n)
        best = np.minimum(best, np.sqrt((residual ** 2).sum(axis=1) + t * PENALTY ** 2))
        top = residual.max(axis=1, keepdims=True)
        keep[rows, np.argmax(residual >= top - TIE, axis=1)] = False
    return best


def rerank(q_xy: np.ndarray, keypoints: np.ndarray, profile: Profile, ids: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of the candidate entry ids (M,) by d: ((k',) ids, (k',) distances), nearest
    first, ties to the lower id; keypoints (N, 17, >=2) is the archive's."""
    ids = np.asarray(ids, dtype=np.int64)
    if not len(ids):
        return ids, np.zeros(0)
    d = trimmed_to(q_xy, keypoints, ids, profile)
    order = np.lexsort((ids, d))[:k]
    return ids[order], d[order]


def tree_trimmed(tree: VPTree, entry_ids: np.ndarray, q_xy: np.ndarray, profile: Profile, k: int,
                 max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The two-stage search in one compiled call (numba only: callers check use_numba()):
    ((k,) entry ids, (k,) distances <= max_distance), nearest first, ties to the lower id,
    -1 / inf pad: rerank of the tree's RERANK nearest, as brute_trimmed, computed on their
    stored profile vectors (d ignores position and size; to float32 rounding). tree: the
    profile's VP-tree over profile vectors, whose id r is entry entry_ids[r]; q_xy (17, 2)."""
    from kiosk.match.trimmed_kernel import tree_search

    xy = np.asarray(q_xy, dtype=np.float64).reshape(17, 2)
    ids = np.empty(k, dtype=np.int64)
    dist = np.empty(k)
    ind = _index_array(profile)
    status = tree_search(tree.knn_arrays(), tree.positions(), entry_ids, ind, xy, RERANK, k,
                         _steps(len(ind)), PENALTY, TIE, max_distance, ids, dist)
    if status >= 0:
        raise ValueError("xy contains NaN or infinite coordinates")
    return ids, dist


def brute_trimmed(
    xy: np.ndarray, scores: np.ndarray, q_xy: np.ndarray, q_scores: np.ndarray, k: int = 1
) -> tuple[Profile | None, np.ndarray, np.ndarray]:
    """Exact reference of the two-stage search: (profile, (k,) ids, (k,) distances) over the
    archive's xy (N, 17, 2) and scores (N, 17); -1 / inf pad, as brute_visible."""
    profile, first, _ = brute_visible(xy, scores, q_xy, q_scores, k=max(k, RERANK))
    ids = np.full(k, -1, dtype=np.int64)
    dist = np.full(k, np.inf)
    if profile is None:
        return profile, ids, dist
    top, d = rerank(q_xy, np.asarray(xy), profile, first[first >= 0], k)
    ids[: len(top)] = top
    dist[: len(top)] = d
    return profile, ids, dist
