"""Compiled (numba) VP-tree kernels: build, k-nearest by Euclidean, k-nearest by weighted L1.

Without numba the decorators are no-ops and kiosk.match.vptree uses vptree_numpy instead.

Tree layout (shared with vptree_numpy), n nodes, vectors stored in tree order:
    node_range (n, 2) int32   [lo, hi) of the node's points in tree order
    node_child (n, 2) int32   (inside, outside) child node ids; (-1, -1) for a leaf
    node_bounds (n, 4) float32  distances to the vantage point (stored at position lo):
                              (inside min, inside max, outside min, outside max), rounded outward
    node_box (n, 2, D) uint16 per-dimension bounding box of the node's points, quantised
                              outward: lo_j = origin_j + box[0, j] * step_j <= every x_j <= hi_j
Children always have larger node ids than their parent.
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.match._jit import njit

log = logging.getLogger(__name__)

#: Absolute slack added to every pruning test (float32 rounding of unit-scale distances is
#: below 1e-6); a node is skipped only when its lower bound exceeds the k-th distance + SLACK.
SLACK = 1e-5
STACK = 512


@njit()
def _choose_vantage(work, lo, hi, n_cand, n_sample):  # pragma: no cover - compiled
    n = hi - lo
    if n <= 2 or n_cand <= 1:
        return lo + np.random.randint(n)
    best = lo
    best_spread = -1.0
    ns = min(n_sample, n)
    sample = np.empty(ns, np.int64)
    for s in range(ns):
        sample[s] = lo + np.random.randint(n)
    dists = np.empty(ns, np.float64)
    for _c in range(n_cand):
        c = lo + np.random.randint(n)
        for s in range(ns):
            acc = 0.0
            for j in range(work.shape[1]):
                t = float(work[c, j]) - float(work[sample[s], j])
                acc += t * t
            dists[s] = np.sqrt(acc)
        spread = np.var(dists)
        if spread > best_spread:
            best_spread = spread
            best = c
    return best


@njit()
def build_kernel(vectors, leaf_size, seed, n_cand, n_sample):  # pragma: no cover - compiled
    """vectors (N, D) float32 -> (perm (N,) int64, tree_vectors, node_range, node_child, bounds)."""
    np.random.seed(seed)
    n_pts, dims = vectors.shape
    work = vectors.copy()
    perm = np.arange(n_pts)
    cap = max(1, 2 * n_pts + 1)
    node_range = np.empty((cap, 2), np.int32)
    node_child = np.full((cap, 2), -1, np.int32)
    bounds = np.zeros((cap, 4), np.float32)
    n_nodes = 0
    if n_pts == 0:
        return perm, work, node_range[:0], node_child[:0], bounds[:0]
    stack = np.empty(STACK * 4, np.int64)
    node_range[0, 0] = 0
    node_range[0, 1] = n_pts
    n_nodes = 1
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        lo = node_range[node, 0]
        hi = node_range[node, 1]
        n = hi - lo
        if n <= leaf_size:
            continue
        v = _choose_vantage(work, lo, hi, n_cand, n_sample)
        # move the vantage point to position lo
        for j in range(dims):
            t = work[lo, j]
            work[lo, j] = work[v, j]
            work[v, j] = t
        tp = perm[lo]
        perm[lo] = perm[v]
        perm[v] = tp
        d = np.empty(n - 1, np.float64)
        for i in range(lo + 1, hi):
            acc = 0.0
            for j in range(dims):
                t = float(work[i, j]) - float(work[lo, j])
                acc += t * t
            d[i - lo - 1] = np.sqrt(acc)
        order = np.argsort(d, kind="mergesort")
        work[lo + 1 : hi] = work[lo + 1 : hi][order]
        perm[lo + 1 : hi] = perm[lo + 1 : hi][order]
        ds = d[order]
        n_in = (n - 1) // 2
        mid = lo + 1 + n_in
        bounds[node, 0] = np.nextafter(np.float32(ds[0]), np.float32(-np.inf))
        bounds[node, 1] = np.nextafter(np.float32(ds[n_in - 1]), np.float32(np.inf))
        bounds[node, 2] = np.nextafter(np.float32(ds[n_in]), np.float32(-np.inf))
        bounds[node, 3] = np.nextafter(np.float32(ds[n - 2]), np.float32(np.inf))
        c_in = n_nodes
        c_out = n_nodes + 1
        n_nodes += 2
        node_child[node, 0] = c_in
        node_child[node, 1] = c_out
        node_range[c_in, 0] = lo + 1
        node_range[c_in, 1] = mid
        node_range[c_out, 0] = mid
        node_range[c_out, 1] = hi
        stack[sp] = c_out
        stack[sp + 1] = c_in
        sp += 2
    return perm, work, node_range[:n_nodes], node_child[:n_nodes], bounds[:n_nodes]


@njit(fastmath=True)
def _sqdist(a, b, thr):  # pragma: no cover - compiled
    """Squared distance of two float32 rows; stops after 16 dims when already > thr."""
    h = min(16, a.shape[0])
    s1 = np.float32(0.0)
    for j in range(h):
        t = a[j] - b[j]
        s1 += t * t
    if s1 > thr:
        return s1
    s2 = np.float32(0.0)
    for j in range(h, a.shape[0]):
        t = a[j] - b[j]
        s2 += t * t
    return s1 + s2


@njit(fastmath=True)
def _wdist(a, q, w, thr):  # pragma: no cover - compiled
    """Weighted L1 distance sum_j w_j |q_j - a_j|; stops after 16 dims when already > thr."""
    h = min(16, a.shape[0])
    s1 = np.float32(0.0)
    for j in range(h):
        s1 += w[j] * abs(q[j] - a[j])
    if s1 > thr:
        return s1
    s2 = np.float32(0.0)
    for j in range(h, a.shape[0]):
        s2 += w[j] * abs(q[j] - a[j])
    return s1 + s2


@njit()
def _insert(bd, bi, d, i):  # pragma: no cover - compiled
    """Insert (d, i) into the sorted best lists if it beats the last one (ties: lower id)."""
    k = bd.shape[0]
    if d > bd[k - 1] or (d == bd[k - 1] and i >= bi[k - 1]):
        return False
    p = k - 1
    while p > 0 and (bd[p - 1] > d or (bd[p - 1] == d and bi[p - 1] > i)):
        bd[p] = bd[p - 1]
        bi[p] = bi[p - 1]
        p -= 1
    bd[p] = d
    bi[p] = i
    return True


@njit(fastmath=True)
def knn_kernel(  # pragma: no cover - compiled
    vecs, ids, node_range, node_child, bounds, queries, k, max_d, out_ids, out_d
):
    """k nearest by Euclidean distance for each row of queries (M, D) float32."""
    big = np.iinfo(np.int64).max
    bd = np.empty(k, np.float32)  # squared distances
    bi = np.empty(k, np.int64)
    st_node = np.empty(STACK, np.int64)
    st_lb = np.empty(STACK, np.float32)
    max_d2 = np.float32(max_d) * np.float32(max_d)
    for m in range(queries.shape[0]):
        q = queries[m]
        bd[:] = max_d2
        bi[:] = big
        tau = np.float32(max_d)
        sp = 0
        if node_range.shape[0] > 0:
            st_node[0] = 0
            st_lb[0] = 0.0
            sp = 1
        while sp > 0:
            sp -= 1
            node = st_node[sp]
            if st_lb[sp] > tau + SLACK:
                continue
            lo = node_range[node, 0]
            hi = node_range[node, 1]
            c_in = node_child[node, 0]
            if c_in < 0:
                for p in range(lo, hi):
                    d2 = _sqdist(vecs[p], q, bd[k - 1])
                    if _insert(bd, bi, d2, ids[p]):
                        tau = np.sqrt(bd[k - 1])
                continue
            d2 = _sqdist(vecs[lo], q, np.float32(np.inf))
            if _insert(bd, bi, d2, ids[lo]):
                tau = np.sqrt(bd[k - 1])
            dq = np.sqrt(d2)
            lb_in = max(bounds[node, 0] - dq, dq - bounds[node, 1], np.float32(0.0))
            lb_out = max(bounds[node, 2] - dq, dq - bounds[node, 3], np.float32(0.0))
            c_out = node_child[node, 1]
            if lb_in <= lb_out:
                first, lb_first, second, lb_second = c_out, lb_out, c_in, lb_in
            else:
                first, lb_first, second, lb_second = c_in, lb_in, c_out, lb_out
            if lb_first <= tau + SLACK:
                st_node[sp] = first
                st_lb[sp] = lb_first
                sp += 1
            if lb_second <= tau + SLACK:
                st_node[sp] = second
                st_lb[sp] = lb_second
                sp += 1
        for r in range(k):
            out_ids[m, r] = bi[r] if bi[r] != big else -1
            out_d[m, r] = np.sqrt(bd[r]) if bi[r] != big else np.inf


@njit(fastmath=True)
def _box_lb(box, node, qq, ws):  # pragma: no cover - compiled
    """Lower bound of the weighted distance from the query to any point in the node's box.

    qq: query in quantised units ((q - origin) / step); ws: weights * step.
    """
    lb = np.float32(0.0)
    for j in range(qq.shape[0]):
        lo = np.float32(box[node, 0, j])
        hi = np.float32(box[node, 1, j])
        if qq[j] < lo:
            lb += ws[j] * (lo - qq[j])
        elif qq[j] > hi:
            lb += ws[j] * (qq[j] - hi)
    return lb


@njit(fastmath=True)
def weighted_kernel(  # pragma: no cover - compiled
    vecs, ids, node_range, node_child, bounds, box, origin, step,
    queries, weights, k, max_d, out_ids, out_d,
):
    """k nearest by weighted L1 (weights (M, D) summing to 2 per row), exact; see vptree.py."""
    big = np.iinfo(np.int64).max
    bd = np.empty(k, np.float32)
    bi = np.empty(k, np.int64)
    st_node = np.empty(STACK, np.int64)
    st_lb = np.empty(STACK, np.float32)
    dims = queries.shape[1]
    qq = np.empty(dims, np.float32)
    ws = np.empty(dims, np.float32)
    for m in range(queries.shape[0]):
        q = queries[m]
        w = weights[m]
        wmin = w[0]
        for j in range(dims):
            qq[j] = (q[j] - origin[j]) / step[j]
            ws[j] = w[j] * step[j]
            wmin = min(wmin, w[j])
        bd[:] = np.float32(max_d)
        bi[:] = big
        tau = np.float32(max_d)
        sp = 0
        if node_range.shape[0] > 0:
            st_node[0] = 0
            st_lb[0] = 0.0
            sp = 1
        while sp > 0:
            sp -= 1
            node = st_node[sp]
            if st_lb[sp] > tau + SLACK:
                continue
            lo = node_range[node, 0]
            hi = node_range[node, 1]
            c_in = node_child[node, 0]
            if c_in < 0:
                for p in range(lo, hi):
                    dw = _wdist(vecs[p], q, w, bd[k - 1])
                    if _insert(bd, bi, dw, ids[p]):
                        tau = bd[k - 1]
                continue
            dw = _wdist(vecs[lo], q, w, np.float32(np.inf))
            if _insert(bd, bi, dw, ids[lo]):
                tau = bd[k - 1]
            d2 = _sqdist(vecs[lo], q, np.float32(np.inf))
            dq = np.sqrt(d2)
            c_out = node_child[node, 1]
            lb_in = wmin * max(bounds[node, 0] - dq, dq - bounds[node, 1], np.float32(0.0))
            lb_out = wmin * max(bounds[node, 2] - dq, dq - bounds[node, 3], np.float32(0.0))
            if lb_in <= tau + SLACK:
                lb_in = max(lb_in, _box_lb(box, c_in, qq, ws))
            if lb_out <= tau + SLACK:
                lb_out = max(lb_out, _box_lb(box, c_out, qq, ws))
            if lb_in <= lb_out:
                first, lb_first, second, lb_second = c_out, lb_out, c_in, lb_in
            else:
                first, lb_first, second, lb_second = c_in, lb_in, c_out, lb_out
            if lb_first <= tau + SLACK:
                st_node[sp] = first
                st_lb[sp] = lb_first
                sp += 1
            if lb_second <= tau + SLACK:
                st_node[sp] = second
                st_lb[sp] = lb_second
                sp += 1
        for r in range(k):
            out_ids[m, r] = bi[r] if bi[r] != big else -1
            out_d[m, r] = bd[r] if bi[r] != big else np.inf


@njit()
def box_kernel(vecs, node_range, node_child, origin, inv_step):  # pragma: no cover - compiled
    """Outward-quantised per-node boxes (n, 2, D) uint16, children before parents."""
    n_nodes = node_range.shape[0]
    dims = vecs.shape[1]
    box = np.empty((n_nodes, 2, dims), np.uint16)
    for node in range(n_nodes - 1, -1, -1):
        lo = node_range[node, 0]
        hi = node_range[node, 1]
        c_in = node_child[node, 0]
        for j in range(dims):
            if c_in < 0:
                mn = vecs[lo, j]
                mx = vecs[lo, j]
                for p in range(lo + 1, hi):
                    mn = min(mn, vecs[p, j])
                    mx = max(mx, vecs[p, j])
                qlo = np.floor((float(mn) - origin[j]) * inv_step[j]) - 1.0
                qhi = np.ceil((float(mx) - origin[j]) * inv_step[j]) + 1.0
                box[node, 0, j] = np.uint16(min(max(qlo, 0.0), 65535.0))
                box[node, 1, j] = np.uint16(min(max(qhi, 0.0), 65535.0))
            else:
                c_out = node_child[node, 1]
                qv = np.floor((float(vecs[lo, j]) - origin[j]) * inv_step[j]) - 1.0
                qv = min(max(qv, 0.0), 65535.0)
                qlo = min(float(box[c_in, 0, j]), float(box[c_out, 0, j]), qv)
                qv = np.ceil((float(vecs[lo, j]) - origin[j]) * inv_step[j]) + 1.0
                qv = min(max(qv, 0.0), 65535.0)
                qhi = max(float(box[c_in, 1, j]), float(box[c_out, 1, j]), qv)
                box[node, 0, j] = np.uint16(qlo)
                box[node, 1, j] = np.uint16(qhi)
    return box
