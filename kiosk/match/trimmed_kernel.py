"""Compiled (numba) ``trimmed`` distances: the same arithmetic as kiosk.match.trimmed's numpy
reference, one row at a time (a re-ranking of 64 rows costs microseconds, not the numpy
version's per-call overheads). Without numba the decorator is a no-op and trimmed uses numpy."""

from __future__ import annotations

import numpy as np

from kiosk.core.jit import njit


@njit()
def _residuals(q, g, keep, r):  # pragma: no cover - compiled
    """r[k] = |u(q)_k - u(g)_k| for the kept keypoints (0 for the others), u normalising on the
    kept ones (centroid, unit L2; a degenerate pose is the constant 1/sqrt(2 |kept|));
    returns sqrt(sum r^2). q, g (n, 2) float64; keep (n,) bool."""
    n = q.shape[0]
    cnt = 0.0
    cqx = cqy = cgx = cgy = 0.0
    for k in range(n):
        if keep[k]:
            cnt += 1.0
            cqx += q[k, 0]
            cqy += q[k, 1]
            cgx += g[k, 0]
            cgy += g[k, 1]
    cnt = max(cnt, 1.0)
    cqx /= cnt
    cqy /= cnt
    cgx /= cnt
    cgy /= cnt
    nq = ng = 0.0
    for k in range(n):
        if keep[k]:
            nq += (q[k, 0] - cqx) ** 2 + (q[k, 1] - cqy) ** 2
            ng += (g[k, 0] - cgx) ** 2 + (g[k, 1] - cgy) ** 2
    nq = np.sqrt(nq)
    ng = np.sqrt(ng)
    flat = 1.0 / np.sqrt(2.0 * cnt)
    total = 0.0
    for k in range(n):
        if not keep[k]:
            r[k] = 0.0
            continue
        if nq > 1e-12:
            ax, ay = (q[k, 0] - cqx) / nq, (q[k, 1] - cqy) / nq
        else:
            ax = ay = flat
        if ng > 1e-12:
            bx, by = (g[k, 0] - cgx) / ng, (g[k, 1] - cgy) / ng
        else:
            bx = by = flat
        e = (ax - bx) ** 2 + (ay - by) ** 2
        r[k] = np.sqrt(e)
        total += e
    return np.sqrt(total)


@njit()
def trimmed_rows(q, g, steps, penalty, tie):  # pragma: no cover - compiled
    """(N,) d of q (n, 2) to each g[i] (N, n, 2), dropping up to `steps` keypoints greedily
    (the first keypoint within `tie` of the largest residual)."""
    rows, n = g.shape[0], g.shape[1]
    out = np.empty(rows)
    keep = np.empty(n, np.bool_)
    r = np.empty(n)
    for i in range(rows):
        keep[:] = True
        best = np.inf
        for t in range(steps + 1):
            d = np.sqrt(_residuals(q, g[i], keep, r) ** 2 + t * penalty * penalty)
            if d < best:
                best = d
            top = r[0]
            for k in range(1, n):
                top = max(top, r[k])
            worst = 0
            while r[worst] < top - tie:
                worst += 1
            keep[worst] = False
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
