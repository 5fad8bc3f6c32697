"""Brute-force nearest neighbours: the exact reference the VP-tree is tested against.

Distances are computed in float64; results are ordered by (distance, id), so ties go to the
lower id; missing results (k > N, or beyond max_distance) are id -1 and distance inf.
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.match.distance import query_weights

log = logging.getLogger(__name__)


def _topk(d: np.ndarray, k: int, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """d: (M, N) float64 distances -> ((M, k) int64 ids, (M, k) float64 distances)."""
    m, n = d.shape
    ids = np.full((m, k), -1, dtype=np.int64)
    out = np.full((m, k), np.inf, dtype=np.float64)
    if n == 0 or k == 0:
        return ids, out
    order = np.lexsort((np.broadcast_to(np.arange(n), d.shape), d), axis=-1)[:, :k]
    top = np.take_along_axis(d, order, axis=1)
    keep = top <= max_distance
    kk = order.shape[1]
    ids[:, :kk] = np.where(keep, order, -1)
    out[:, :kk] = np.where(keep, top, np.inf)
    return ids, out


def _as2d(a: np.ndarray, dims: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1, dims) if a.ndim == 1 else a


def brute_euclidean(
    vectors: np.ndarray, queries: np.ndarray, k: int = 1, max_distance: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest by Euclidean (= cosine distance for unit vectors).

    vectors: (N, D); queries: (D,) or (M, D). Returns ((M, k) ids, (M, k) distances).
    """
    v = np.asarray(vectors, dtype=np.float64)
    q = _as2d(queries, v.shape[1] if v.ndim == 2 else queries.shape[-1])
    d = np.empty((len(q), len(v)))
    for r in range(len(q)):  # one query at a time: (N, D) temporaries, not (M, N, D)
        d[r] = np.sqrt(((v - q[r]) ** 2).sum(axis=-1))
    return _topk(d, k, max_distance)


def brute_weighted(
    vectors: np.ndarray,
    query_vec: np.ndarray,
    query_conf: np.ndarray,
    k: int = 1,
    max_distance: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest by Move Mirror's weighted distance.

    vectors: (N, 34); query_vec: (34,) or (M, 34); query_conf: (17,) or (M, 17).
    Returns ((M, k) ids, (M, k) distances).
    """
    v = np.asarray(vectors, dtype=np.float64)
    q = _as2d(query_vec, 34)
    w = query_weights(np.asarray(query_conf, dtype=np.float64).reshape(-1, 17))
    if w.shape[0] != q.shape[0]:
        raise ValueError(f"{q.shape[0]} query vectors but {w.shape[0]} confidence rows")
    d = np.empty((len(q), len(v)))
    for r in range(len(q)):
        d[r] = (np.abs(v - q[r]) * w[r]).sum(axis=-1)
    return _topk(d, k, max_distance)
