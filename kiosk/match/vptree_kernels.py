"""Compiled (numba) VP-tree searches: k nearest by Euclidean and by weighted L1.

The array layout is described in vptree_build; the exactness argument in vptree.
Without numba the decorators are no-ops and kiosk.match.vptree uses vptree_numpy instead."""

from __future__ import annotations

import logging

import numpy as np

from kiosk.core.jit import njit
from kiosk.match.query_status import BAD_CONFIDENCE, NONFINITE, STRIDE, ZERO_VECTOR
from kiosk.match.vptree_build import CHUNK, SLACK, STACK

log = logging.getLogger(__name__)

#: Sketch codes are within 1/2 of the scaled projection; a little more for float rounding.
HALF = 0.501
#: fastmath without 'nnan'/'ninf': reassociation lets LLVM vectorise the distance loops, while
#: NaN checks and the inf sentinels (k > N, max_distance) keep their meaning.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(fastmath=FAST)
def _sqdist(a, b):  # pragma: no cover - compiled
    """Squared distance of two float32 rows (one vectorised loop: no early exit, which
    would stop LLVM vectorising it and cost 4x)."""
    s = np.float32(0.0)
    for j in range(a.shape[0]):
        t = a[j] - b[j]
        s += t * t
    return s


@njit(fastmath=FAST)
def _wdist(a, q, w):  # pragma: no cover - compiled
    """Weighted L1 distance sum_j w_j |q_j - a_j| (one vectorised loop)."""
    s = np.float32(0.0)
    for j in range(a.shape[0]):
        s += w[j] * abs(q[j] - a[j])
    return s


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


@njit(fastmath=FAST)
def _sbox_lb(sbox, node, qs, sstep):  # pragma: no cover - compiled
    """Lower bound of ||q - g|| for every g of a node, from the node's sketch box."""
    s = np.float32(0.0)
    for j in range(qs.shape[0]):
        g = max(qs[j] - np.float32(sbox[node, 1, j]), np.float32(sbox[node, 0, j]) - qs[j])
        g = max(g - np.float32(HALF), np.float32(0.0)) * sstep[j]
        s += g * g
    return np.sqrt(s)


@njit(fastmath=FAST)
def _project(q, mean, rot, sstep, qs):  # pragma: no cover - compiled
    """qs = rot @ (q - mean) / sstep: the query in sketch units."""
    for j in range(rot.shape[0]):
        acc = np.float32(0.0)
        for i in range(q.shape[0]):
            acc += rot[j, i] * (q[i] - mean[i])
        qs[j] = acc / sstep[j]


@njit(fastmath=FAST)
def _sketch_pass(a, sketch, base, m, j0, j1, qs, sstep):  # pragma: no cover - compiled
    """a[p] += squared lower-bound terms of sketch axes j0..j1-1 for the m points of the run
    whose (S, m) code block starts at base."""
    for j in range(j0, j1):
        qj = qs[j]
        sj = sstep[j]
        row = sketch[base + j * m : base + (j + 1) * m]
        for p in range(m):
            g = max(abs(qj - np.float32(row[p])) - np.float32(HALF), np.float32(0.0))
            a[p] += (g * sj) * (g * sj)


@njit(fastmath=FAST)
def knn_kernel(  # pragma: no cover - compiled
    vecs, ids, node_range, node_child, bounds, mean, rot, sketch, sstep, sbox, node_chunk,
    chunk_sbox, n_filter, queries, k, max_d, out_ids, out_d,
):
    """k nearest by Euclidean distance to each L2-normalised row of queries (M, D) float32.

    A leaf is scanned in runs of CHUNK points (sorted along the first PCA axis), each skipped
    when its sketch box is out of reach; in a run, a lower bound of every point's distance
    from the first n_filter sketch axes (vectorised across the points), tightened with the
    other axes when some point survives, then the exact distance only for points whose bound
    does not exceed the current k-th distance (a projection never lengthens: no answer lost).
    Returns -1, or query_status.encode(m, problem) for the first bad query m (NONFINITE, ZERO_VECTOR).
    """
    big = np.iinfo(np.int64).max
    acc = np.empty(CHUNK, np.float32)
    n_sketch = rot.shape[0]
    n_filter = min(n_filter, n_sketch)
    bd = np.empty(k, np.float32)  # squared distances
    bi = np.empty(k, np.int64)
    st_node = np.empty(STACK, np.int64)
    st_lb = np.empty(STACK, np.float32)
    qs = np.empty(rot.shape[0], np.float32)
    q = np.empty(queries.shape[1], np.float32)
    max_d2 = np.float32(max_d) * np.float32(max_d)
    for m in range(queries.shape[0]):
        norm = 0.0
        for j in range(q.shape[0]):
            x = float(queries[m, j])
            if not (abs(x) < np.inf):  # NaN or inf (compares stay exact under FAST)
                return STRIDE * m + NONFINITE
            norm += x * x
        if norm <= 0.0:
            return STRIDE * m + ZERO_VECTOR
        norm = np.sqrt(norm)
        for j in range(q.shape[0]):
            q[j] = np.float32(queries[m, j] / norm)
        _project(q, mean, rot, sstep, qs)
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
            lb_node = st_lb[sp]  # holds for every descendant too
            if lb_node > tau + SLACK:
                continue
            lo = node_range[node, 0]
            hi = node_range[node, 1]
            c_in = node_child[node, 0]
            if c_in < 0:
                n = hi - lo
                c0 = node_chunk[node]
                for ci in range((n + CHUNK - 1) // CHUNK):
                    if _sbox_lb(chunk_sbox, c0 + ci, qs, sstep) > tau + SLACK:
                        continue
                    off = ci * CHUNK
                    cn = min(CHUNK, n - off)
                    a = acc[:cn]
                    a[:] = 0.0
                    thr = (tau + SLACK) * (tau + SLACK)
                    base = (lo + off) * n_sketch
                    _sketch_pass(a, sketch, base, cn, 0, n_filter, qs, sstep)
                    if n_filter < n_sketch:  # second pass only when some point survives
                        alive = False
                        for p in range(cn):
                            alive |= a[p] <= thr
                        if alive:
                            _sketch_pass(a, sketch, base, cn, n_filter, n_sketch, qs, sstep)
                    for p in range(cn):
                        if a[p] > thr:
                            continue
                        d2 = _sqdist(vecs[lo + off + p], q)
                        if d2 <= bd[k - 1] and _insert(bd, bi, d2, ids[lo + off + p]):
                            tau = np.sqrt(bd[k - 1])
                            thr = (tau + SLACK) * (tau + SLACK)
                continue
            d2 = _sqdist(vecs[lo], q)
            if _insert(bd, bi, d2, ids[lo]):
                tau = np.sqrt(bd[k - 1])
            dq = np.sqrt(d2)
            c_out = node_child[node, 1]
            lb_in = max(bounds[node, 0] - dq, dq - bounds[node, 1], lb_node)
            lb_out = max(bounds[node, 2] - dq, dq - bounds[node, 3], lb_node)
            if lb_in <= tau + SLACK:
                lb_in = max(lb_in, _sbox_lb(sbox, c_in, qs, sstep))
            if lb_out <= tau + SLACK:
                lb_out = max(lb_out, _sbox_lb(sbox, c_out, qs, sstep))
            # Written out in both kernels on purpose: an @njit helper measured ~5% slower at 80k.
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
    return -1


@njit(fastmath=FAST)
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


@njit(fastmath=FAST)
def weighted_kernel(  # pragma: no cover - compiled
    vecs, ids, node_range, node_child, bounds, box, origin, step,
    wsketch, wdims, worigin, wstep, queries, conf, k, max_d, out_ids, out_d,
):
    """k nearest by Move Mirror's weighted distance, exact (see vptree.py).

    queries (M, 34) float32 pose vectors, conf (M, 17) float32 confidences; the weight of
    x_k and y_k is conf_k / sum(conf) (1/17 when the sum is 0).
    A leaf is scanned in runs of CHUNK points: for every point a lower bound from the uint8
    codes of T coordinates, sum_t w_j step_t max(|q_j - x^_j| / step_t - 1/2, 0) <= the part
    of d_w over those coordinates <= d_w (vectorised across the run), then the exact distance
    only for points whose bound does not exceed the current k-th distance.
    Returns -1, or query_status.encode(m, problem) for the first bad query m (NONFINITE, BAD_CONFIDENCE).
    """
    big = np.iinfo(np.int64).max
    acc = np.empty(CHUNK, np.float32)
    n_w = wdims.shape[0]
    wq = np.empty(n_w, np.float32)
    wt = np.empty(n_w, np.float32)
    bd = np.empty(k, np.float32)
    bi = np.empty(k, np.int64)
    st_node = np.empty(STACK, np.int64)
    st_lb = np.empty(STACK, np.float32)
    dims = queries.shape[1]
    qq = np.empty(dims, np.float32)
    ws = np.empty(dims, np.float32)
    w = np.empty(dims, np.float32)
    n_kp = conf.shape[1]
    for m in range(queries.shape[0]):
        q = queries[m]
        for j in range(dims):
            if not (abs(q[j]) < np.inf):
                return STRIDE * m + NONFINITE
        total = 0.0
        for c in range(n_kp):
            if not (conf[m, c] >= 0.0 and conf[m, c] < np.inf):
                return STRIDE * m + BAD_CONFIDENCE
            total += float(conf[m, c])
        for c in range(n_kp):
            wc = float(conf[m, c]) / total if total > 0.0 else 1.0 / n_kp
            w[2 * c] = np.float32(wc)
            w[2 * c + 1] = np.float32(wc)
        wnorm = np.float32(0.0)
        for j in range(dims):
            qq[j] = (q[j] - origin[j]) / step[j]
            ws[j] = w[j] * step[j]
            wnorm += w[j] * w[j]
        wnorm = np.sqrt(wnorm) * np.float32(1.0 + 1e-5)
        for t in range(n_w):
            wq[t] = (q[wdims[t]] - worigin[t]) / wstep[t]
            wt[t] = w[wdims[t]] * wstep[t]
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
            lb_node = st_lb[sp]  # holds for every descendant too
            if lb_node > tau + SLACK:
                continue
            lo = node_range[node, 0]
            hi = node_range[node, 1]
            c_in = node_child[node, 0]
            if c_in < 0:
                for off in range(0, hi - lo, CHUNK):
                    cn = min(CHUNK, hi - lo - off)
                    a = acc[:cn]
                    a[:] = 0.0
                    base = (lo + off) * n_w
                    for t in range(n_w):
                        qt = wq[t]
                        wgt = wt[t]
                        row = wsketch[base + t * cn : base + (t + 1) * cn]
                        for p in range(cn):
                            g = max(abs(qt - np.float32(row[p])) - np.float32(HALF),
                                    np.float32(0.0))
                            a[p] += wgt * g
                    for p in range(cn):
                        if a[p] > tau + SLACK:
                            continue
                        dw = _wdist(vecs[lo + off + p], q, w)
                        if dw <= bd[k - 1] and _insert(bd, bi, dw, ids[lo + off + p]):
                            tau = bd[k - 1]
                continue
            dw = _wdist(vecs[lo], q, w)
            if _insert(bd, bi, dw, ids[lo]):
                tau = bd[k - 1]
            c_out = node_child[node, 1]
            # d_w(q, g) >= d_w(q, vp) - d_w(g, vp) >= d_w(q, vp) - ||w||_2 ||g - vp||_2
            lb_in = max(dw - wnorm * bounds[node, 1], lb_node)
            lb_out = max(dw - wnorm * bounds[node, 3], lb_node)
            if lb_in <= tau + SLACK:
                lb_in = max(lb_in, _box_lb(box, c_in, qq, ws))
            if lb_out <= tau + SLACK:
                lb_out = max(lb_out, _box_lb(box, c_out, qq, ws))
            # Written out in both kernels on purpose: an @njit helper measured ~5% slower at 80k.
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
    return -1
