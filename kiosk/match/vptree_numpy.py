"""Pure-numpy VP-tree build and search: the fallback when numba is missing or disabled.

Same tree layout and the same exact answers as vptree_kernels (see its docstring); a Python
loop over nodes with vectorised distance computations, so it is slower but dependency-free.
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.match.vptree_build import SLACK

log = logging.getLogger(__name__)


def _choose_vantage(work: np.ndarray, lo: int, hi: int, rng: np.random.Generator,
                    n_cand: int, n_sample: int) -> int:
    n = hi - lo
    if n <= 2 or n_cand <= 1:
        return lo + int(rng.integers(n))
    sample = work[lo + rng.integers(n, size=min(n_sample, n))].astype(np.float64)
    cands = lo + rng.integers(n, size=n_cand)
    d = np.sqrt(((work[cands].astype(np.float64)[:, None, :] - sample[None]) ** 2).sum(-1))
    return int(cands[int(np.argmax(d.var(axis=1)))])


def build_numpy(vectors: np.ndarray, leaf_size: int, seed: int, n_cand: int, n_sample: int):
    """vectors (N, D) float32 -> (perm, tree_vectors, node_range, node_child, node_bounds)."""
    rng = np.random.default_rng(seed)
    n_pts = vectors.shape[0]
    work = np.array(vectors, dtype=np.float32, copy=True)
    perm = np.arange(n_pts, dtype=np.int64)
    ranges: list[tuple[int, int]] = []
    children: list[tuple[int, int]] = []
    bounds: list[tuple[float, float, float, float]] = []
    if n_pts:
        ranges.append((0, n_pts))
        children.append((-1, -1))
        bounds.append((0.0, 0.0, 0.0, 0.0))
    stack = [0] if n_pts else []
    down, up = np.float32(-np.inf), np.float32(np.inf)
    while stack:
        node = stack.pop()
        lo, hi = ranges[node]
        n = hi - lo
        if n <= leaf_size:
            continue
        v = _choose_vantage(work, lo, hi, rng, n_cand, n_sample)
        work[[lo, v]] = work[[v, lo]]
        perm[[lo, v]] = perm[[v, lo]]
        diff = work[lo + 1 : hi].astype(np.float64) - work[lo].astype(np.float64)
        d = np.sqrt((diff * diff).sum(axis=1))
        order = np.argsort(d, kind="stable")
        work[lo + 1 : hi] = work[lo + 1 : hi][order]
        perm[lo + 1 : hi] = perm[lo + 1 : hi][order]
        ds = d[order].astype(np.float32)
        n_in = (n - 1) // 2
        mid = lo + 1 + n_in
        bounds[node] = (
            float(np.nextafter(ds[0], down)), float(np.nextafter(ds[n_in - 1], up)),
            float(np.nextafter(ds[n_in], down)), float(np.nextafter(ds[n - 2], up)),
        )
        c_in, c_out = len(ranges), len(ranges) + 1
        children[node] = (c_in, c_out)
        ranges += [(lo + 1, mid), (mid, hi)]
        children += [(-1, -1), (-1, -1)]
        bounds += [(0.0, 0.0, 0.0, 0.0)] * 2
        stack += [c_out, c_in]
    return (
        perm,
        work,
        np.asarray(ranges, dtype=np.int32).reshape(-1, 2),
        np.asarray(children, dtype=np.int32).reshape(-1, 2),
        np.asarray(bounds, dtype=np.float32).reshape(-1, 4),
    )


def _merge(best_d: np.ndarray, best_i: np.ndarray, d: np.ndarray, i: np.ndarray, k: int):
    """Keep the k smallest (distance, id) pairs of the union."""
    all_d = np.concatenate([best_d, d])
    all_i = np.concatenate([best_i, i])
    order = np.lexsort((all_i, all_d))[:k]
    return all_d[order], all_i[order]


def _search_one(tree, q: np.ndarray, k: int, max_d: float, w: np.ndarray | None):
    """One query; w None -> Euclidean, else weighted L1 with per-coordinate weights w."""
    vecs, ids = tree.tree_vectors, tree.tree_ids
    rng_, child, bnd = tree.node_range, tree.node_child, tree.node_bounds
    q64 = q.astype(np.float64)
    best_d = np.empty(0)
    best_i = np.empty(0, dtype=np.int64)

    def dist(rows: np.ndarray) -> np.ndarray:
        diff = rows.astype(np.float64) - q64
        if w is None:
            return np.sqrt((diff * diff).sum(axis=-1))
        return (np.abs(diff) * w).sum(axis=-1)

    def tau() -> float:
        return float(best_d[k - 1]) if len(best_d) >= k else max_d

    if w is not None:
        wmin = float(w.min())
        box_lo = tree.box_origin + tree.node_box[:, 0].astype(np.float64) * tree.box_step
        box_hi = tree.box_origin + tree.node_box[:, 1].astype(np.float64) * tree.box_step
    stack = [(0, 0.0)] if len(rng_) else []
    while stack:
        node, lb = stack.pop()
        if lb > tau() + SLACK:
            continue
        lo, hi = int(rng_[node, 0]), int(rng_[node, 1])
        c_in, c_out = int(child[node, 0]), int(child[node, 1])
        end = hi if c_in < 0 else lo + 1
        d = dist(vecs[lo:end])
        keep = d <= max_d
        best_d, best_i = _merge(best_d, best_i, d[keep], ids[lo:end][keep].astype(np.int64), k)
        if c_in < 0:
            continue
        dq = float(np.sqrt(((vecs[lo].astype(np.float64) - q64) ** 2).sum()))
        b = bnd[node].astype(np.float64)
        lbs = [max(b[0] - dq, dq - b[1], 0.0), max(b[2] - dq, dq - b[3], 0.0)]
        if w is not None:
            for s, c in enumerate((c_in, c_out)):
                gap = np.maximum(box_lo[c] - q64, 0.0) + np.maximum(q64 - box_hi[c], 0.0)
                lbs[s] = max(wmin * lbs[s], float((w * gap).sum()))
        pairs = sorted(zip(lbs, (c_in, c_out), strict=True), reverse=True)
        for lb_c, c in pairs:
            if lb_c <= tau() + SLACK:
                stack.append((c, lb_c))
    out_i = np.full(k, -1, dtype=np.int64)
    out_d = np.full(k, np.inf)
    out_i[: len(best_i)] = best_i
    out_d[: len(best_d)] = best_d
    return out_i, out_d


def search_numpy(tree, queries: np.ndarray, k: int, max_d: float,
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """queries (M, D) float32, weights None or (M, D) -> ((M, k) int64 ids, (M, k) float64)."""
    m = queries.shape[0]
    out_i = np.full((m, k), -1, dtype=np.int64)
    out_d = np.full((m, k), np.inf)
    for r in range(m):
        w = None if weights is None else weights[r].astype(np.float64)
        out_i[r], out_d[r] = _search_one(tree, queries[r], k, max_d, w)
    return out_i, out_d
