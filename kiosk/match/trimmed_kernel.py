"""Compiled (numba) ``trimmed`` distances: the same arithmetic as kiosk.match.trimmed's numpy
reference, one row at a time (a re-ranking of 64 rows costs microseconds, not the numpy
version's per-call overheads). Without numba the decorator is a no-op and trimmed uses numpy."""

from __future__ import annotations

import numpy as np

from kiosk.core.jit import njit
from kiosk.match.query_status import NONFINITE
from kiosk.match.vptree_kernels import knn_kernel

#: fastmath without 'nnan'/'ninf' (as kiosk.match.vptree_kernels): the per-keypoint loops
#: vectorise; sums in another order differ from the numpy reference in the last bits only.
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(fastmath=FAST)
def _centre(p, x, y):  # pragma: no cover - compiled
    """x, y (n,) = p (n, 2) minus its centroid; returns (sum x, sum y, sum x^2 + y^2)."""
    n = p.shape[0]
    cx = cy = 0.0
    for k in range(n):
        cx += p[k, 0]
        cy += p[k, 1]
    cx /= n
    cy /= n
    sx = sy = s2 = 0.0
    for k in range(n):
        x[k] = p[k, 0] - cx
        y[k] = p[k, 1] - cy
        sx += x[k]
        sy += y[k]
        s2 += x[k] * x[k] + y[k] * y[k]
    return sx, sy, s2


@njit(fastmath=FAST)
def _scale(x, y, w, sx, sy, s2, cnt):  # pragma: no cover - compiled
    """(mean x, mean y, 1 / norm, flat) of the kept keypoints (w (n,) 1.0 / 0.0) of x, y (n,),
    from their sums sx, sy and sum of squares s2 (x, y are centred on all keypoints, so little
    cancels). A degenerate pose (norm <= 1e-12) gives 1 / norm = 0 and flat = 1/sqrt(2 cnt),
    its constant unit vector; otherwise flat = 0. When the kept keypoints nearly coincide the
    norm is summed directly, so a degenerate pose is told as the numpy reference tells it."""
    mx = sx / cnt
    my = sy / cnt
    n2 = s2 - cnt * (mx * mx + my * my)
    if n2 < 1e-9 * s2 or n2 < 1e-20:
        n2 = 0.0
        for k in range(x.shape[0]):
            n2 += w[k] * ((x[k] - mx) ** 2 + (y[k] - my) ** 2)
    norm = np.sqrt(n2)
    if norm > 1e-12:
        return mx, my, 1.0 / norm, 0.0
    return mx, my, 0.0, 1.0 / np.sqrt(2.0 * cnt)


@njit(fastmath=FAST)
def trimmed_rows(q, g, steps, penalty, tie):  # pragma: no cover - compiled
    """(N,) d of q (n, 2) to each g[i] (N, n, 2), dropping up to `steps` keypoints greedily
    (the first keypoint whose residual is within `tie` of the largest; a dropped keypoint's
    residual is 0). Each pose is centred once; a drop updates the kept keypoints' sums, so a
    step costs one pass over the keypoints (the numpy reference renormalises from scratch)."""
    rows, n = g.shape[0], g.shape[1]
    out = np.empty(rows)
    w = np.empty(n)  # 1.0 kept, 0.0 dropped
    e = np.empty(n)
    qx, qy, gx, gy = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    qsx_all, qsy_all, q2_all = _centre(q, qx, qy)
    for i in range(rows):
        gsx, gsy, g2 = _centre(g[i], gx, gy)
        qsx, qsy, q2 = qsx_all, qsy_all, q2_all
        w[:] = 1.0
        cnt = float(n)
        best = np.inf
        for t in range(steps + 1):
            mqx, mqy, iq, fq = _scale(qx, qy, w, qsx, qsy, q2, cnt)
            mgx, mgy, ig, fg = _scale(gx, gy, w, gsx, gsy, g2, cnt)
            total = 0.0
            top = 0.0
            for k in range(n):
                dx = (qx[k] - mqx) * iq + fq - (gx[k] - mgx) * ig - fg
                dy = (qy[k] - mqy) * iq + fq - (gy[k] - mgy) * ig - fg
                e[k] = w[k] * (dx * dx + dy * dy)
                total += e[k]
                top = max(top, e[k])
            best = min(best, np.sqrt(total + t * penalty * penalty))
            if t == steps:
                break
            thr = np.sqrt(top) - tie
            worst = 0
            if thr > 0.0:
                while e[worst] < thr * thr:
                    worst += 1
            if w[worst] > 0.0:
                w[worst] = 0.0
                cnt -= 1.0
                qsx -= qx[worst]
                qsy -= qy[worst]
                q2 -= qx[worst] ** 2 + qy[worst] ** 2
                gsx -= gx[worst]
                gsy -= gy[worst]
                g2 -= gx[worst] ** 2 + gy[worst] ** 2
        out[i] = best
    return out


@njit()
def trimmed_gather(q, keypoints, ids, ind, steps, penalty, tie):  # pragma: no cover - compiled
    """trimmed_rows of q (n, 2) float64 to the archive entries ids (M,) int64 of keypoints
    (N, 17, C >= 2) (x, y, ...), on the profile's keypoints ind (n,) int64: the re-ranking's
    rows gathered here, not by numpy fancy indexing (which cost more than the distances)."""
    n = ind.shape[0]
    g = np.empty((ids.shape[0], n, 2))
    for i in range(ids.shape[0]):
        for k in range(n):
            for c in range(2):
                v = np.float64(keypoints[ids[i], ind[k], c])
                if not np.isfinite(v):
                    raise ValueError("xy contains NaN or infinite coordinates")
                g[i, k, c] = v
    return trimmed_rows(q, g, steps, penalty, tie)


@njit()
def _profile_query(xy, ind, q, qv):  # pragma: no cover - compiled
    """q (n, 2) = xy[ind] (float64) and qv (1, 2n) float32 = its profile vector, as
    kiosk.match.visible.profile_vectors (centroid to the origin, unit L2; a degenerate pose is
    the constant 1/sqrt(2n)). False when a coordinate is NaN or infinite."""
    n = ind.shape[0]
    cx = cy = 0.0
    for k in range(n):
        q[k, 0] = xy[ind[k], 0]
        q[k, 1] = xy[ind[k], 1]
        if not (abs(q[k, 0]) < np.inf and abs(q[k, 1]) < np.inf):
            return False
        cx += q[k, 0]
        cy += q[k, 1]
    cx /= n
    cy /= n
    norm = 0.0
    for k in range(n):
        norm += (q[k, 0] - cx) ** 2 + (q[k, 1] - cy) ** 2
    norm = np.sqrt(norm)
    for k in range(n):
        if norm > 1e-12:
            qv[0, 2 * k] = np.float32((q[k, 0] - cx) / norm)
            qv[0, 2 * k + 1] = np.float32((q[k, 1] - cy) / norm)
        else:
            qv[0, 2 * k] = qv[0, 2 * k + 1] = np.float32(1.0 / np.sqrt(2.0 * n))
    return True


@njit()
def tree_search(tree_args, positions, entry_ids, ind, xy, candidates, k, steps, penalty, tie,
                max_d, out_ids, out_d):  # pragma: no cover - compiled
    """The whole two-stage ``trimmed`` search of one query in one call (no per-stage Python).

    tree_args: VPTree.knn_arrays() of the profile's tree (its first item the (M, 2n) float32
    profile vectors in tree order), positions (M,) int64 the tree row of each id
    (VPTree.positions()), id r being the archive entry entry_ids[r] (M,) int64; ind (n,) int64
    the profile's keypoints; xy (17, 2) float64 the query (x, y). The `candidates` nearest ids
    under ``visible`` (exact, knn_kernel) are re-ranked by trimmed_rows on their stored
    profile vectors (d is invariant to position and size, so the unit vectors the search has
    just read give the keypoints' d, to float32 rounding); out_ids (k,) / out_d (k,) get the
    k best with d <= max_d, by (d, entry id), -1 / inf after them.
    Returns -1, or query_status's code of a bad query (NONFINITE)."""
    n = ind.shape[0]
    q = np.empty((n, 2))
    qv = np.empty((1, 2 * n), np.float32)
    out_ids[:] = -1
    out_d[:] = np.inf
    if not _profile_query(xy, ind, q, qv):
        return NONFINITE
    kk = min(candidates, entry_ids.shape[0])
    if kk == 0:
        return -1
    rows = np.empty((1, kk), np.int64)
    dist = np.empty((1, kk))
    status = knn_kernel(*tree_args, qv, kk, np.inf, rows, dist)
    if status >= 0:
        return status
    m = 0
    for r in range(kk):
        m += rows[0, r] >= 0
    ents = np.empty(m, np.int64)
    for r in range(m):
        ents[r] = entry_ids[rows[0, r]]
    by_entry = np.argsort(ents, kind="mergesort")
    vecs = tree_args[0]
    g = np.empty((m, n, 2))
    for i in range(m):
        row = positions[rows[0, by_entry[i]]]
        for j in range(n):
            g[i, j, 0] = vecs[row, 2 * j]
            g[i, j, 1] = vecs[row, 2 * j + 1]
    ents = ents[by_entry]
    d = trimmed_rows(q, g, steps, penalty, tie)
    order = np.argsort(d, kind="mergesort")  # stable: ties keep the lower id first
    for r in range(min(k, m)):
        if d[order[r]] > max_d:
            break
        out_ids[r] = ents[order[r]]
        out_d[r] = d[order[r]]
    return -1
