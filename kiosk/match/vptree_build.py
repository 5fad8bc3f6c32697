"""Building the VP-tree's flat arrays: partition (numba or numpy), boxes, PCA sketch.

Layout (n nodes; N points stored in tree order, so every leaf bucket is contiguous):
    vectors    (N, D) float32   the points, tree order
    ids        (N,) int32       original id of each tree position
    node_range (n, 2) int32     [lo, hi) of the node's points; an internal node's vantage
                                point is at lo, its children cover [lo+1, mid) and [mid, hi)
    node_child (n, 2) int32     (inside, outside) child ids, (-1, -1) for a leaf; children
                                always have larger ids than their parent
    node_bounds (n, 4) float32  (inside min, inside max, outside min, outside max) distance
                                of the children's points to the vantage, rounded outward
    node_box   (n, 2, D) uint16 per-dimension box of the node's points, outward-quantised:
                                origin + box[0] * step <= x <= origin + box[1] * step
    pca_mean (D,), pca_rot (S, D) float32: the S leading principal axes of the data
    sketch     (N * S,) int8    round(pca_rot @ (x - pca_mean) / sketch_step) per point, within
                                1/2 of the exact scaled projection; tree order, blocked: a run
                                [a, b) of a leaf (see node_chunk) holds its codes at [a*S, b*S)
                                as an (S, b - a) block (axis-major: the filter vectorises
                                across the points and reads one contiguous stretch per run)
    sketch_step (S,) float32
    node_sbox  (n, 2, S) int8   min / max sketch code of the node's points
    node_chunk (n,) int32       a leaf's first chunk (-1 for internal nodes): the leaf's points
                                are sorted along the first PCA axis and cut in runs of CHUNK
    chunk_sbox (C, 2, S) int8   min / max sketch code of each run
    wsketch    (N * T,) uint8   codes round((x_j - origin) / step) of T = 14 original coordinates
                                j = wsketch_dims (the highest-variance ones), run-blocked like
                                sketch; wsketch_origin, wsketch_step (T,) float32
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.core.jit import njit

log = logging.getLogger(__name__)

STACK = 512
#: Absolute slack added to every pruning test (float32 rounding of unit-scale distances is
#: below 1e-6); a node is skipped only when its lower bound exceeds the k-th distance + SLACK.
SLACK = 1e-5
SKETCH_DIMS = 16
#: a leaf is scanned in runs of CHUNK points, each with its own sketch box
CHUNK = 64
#: coordinates (the highest-variance ones) kept as uint8 codes for the weighted filter
WSKETCH_DIMS = 14
_PCA_SAMPLE = 65536


@njit()
def _choose_vantage(work, lo, hi, n_cand, n_sample):  # pragma: no cover - compiled
    """The candidate whose distances to a random sample spread most (a 'corner' point)."""
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
        for j in range(dims):  # move the vantage point to position lo
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


@njit()
def minmax_kernel(lo_codes, hi_codes, node_range, node_child, out):  # pragma: no cover
    """out[node, 0] = min lo_codes, out[node, 1] = max hi_codes over the node's points."""
    for node in range(node_range.shape[0] - 1, -1, -1):
        lo = node_range[node, 0]
        hi = node_range[node, 1]
        c_in = node_child[node, 0]
        c_out = node_child[node, 1]
        for j in range(lo_codes.shape[1]):
            mn = lo_codes[lo, j]
            mx = hi_codes[lo, j]
            if c_in < 0:
                for p in range(lo + 1, hi):
                    mn = min(mn, lo_codes[p, j])
                    mx = max(mx, hi_codes[p, j])
            else:
                mn = min(mn, out[c_in, 0, j], out[c_out, 0, j])
                mx = max(mx, out[c_in, 1, j], out[c_out, 1, j])
            out[node, 0, j] = mn
            out[node, 1, j] = mx


def minmax_numpy(lo_codes, hi_codes, node_range, node_child, out) -> None:
    """Same as minmax_kernel, a Python loop over nodes."""
    for node in range(node_range.shape[0] - 1, -1, -1):
        lo, hi = node_range[node]
        c_in, c_out = node_child[node]
        if c_in < 0:
            out[node, 0] = lo_codes[lo:hi].min(axis=0)
            out[node, 1] = hi_codes[lo:hi].max(axis=0)
        else:
            out[node, 0] = np.minimum.reduce([lo_codes[lo], out[c_in, 0], out[c_out, 0]])
            out[node, 1] = np.maximum.reduce([hi_codes[lo], out[c_in, 1], out[c_out, 1]])


def box_arrays(work: np.ndarray, node_range: np.ndarray, node_child: np.ndarray,
               compiled: bool) -> dict[str, np.ndarray]:
    """node_box, box_origin, box_step for tree-order vectors work (N, D) float32."""
    n, dims = work.shape
    lo = work.min(axis=0).astype(np.float64) if n else np.zeros(dims)
    hi = work.max(axis=0).astype(np.float64) if n else np.ones(dims)
    step = np.where(hi > lo, (hi - lo) / 65535.0, 1.0).astype(np.float32)
    origin = lo.astype(np.float32)
    box = np.zeros((len(node_range), 2, dims), np.uint16)
    if n:
        inv = 1.0 / step.astype(np.float64)
        t = (work.astype(np.float64) - origin.astype(np.float64)) * inv
        lo_codes = np.clip(np.floor(t) - 1.0, 0, 65535).astype(np.uint16)
        hi_codes = np.clip(np.ceil(t) + 1.0, 0, 65535).astype(np.uint16)
        fn = minmax_kernel if compiled else minmax_numpy
        fn(lo_codes, hi_codes, node_range, node_child, box)
    return {"node_box": box, "box_origin": origin, "box_step": step}


def pca_axes(work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), rot (S, D)) float32: the S leading principal axes of (a sample of) work."""
    n, dims = work.shape
    s = min(SKETCH_DIMS, dims)
    mean = np.zeros(dims)
    rot = np.eye(dims)[:s]
    if n:
        sample = work[np.linspace(0, n - 1, min(n, _PCA_SAMPLE)).astype(np.int64)]
        mean = sample.astype(np.float64).mean(axis=0)
        centred = sample.astype(np.float64) - mean
        cov = centred.T @ centred / len(centred)  # (D, D); zero for a single point, never NaN
        evals, evecs = np.linalg.eigh(cov)
        rot = evecs[:, np.argsort(evals)[::-1][:s]].T
    return mean.astype(np.float32), np.ascontiguousarray(rot, dtype=np.float32)


def project(work: np.ndarray, mean: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """(N, S) float64 projections rot @ (x - mean) of the float32 rows of work."""
    y = np.empty((work.shape[0], rot.shape[0]))
    m64, r64 = mean.astype(np.float64), rot.astype(np.float64)
    for a in range(0, work.shape[0], 1 << 16):  # (65536, D) float64 temporaries
        y[a : a + (1 << 16)] = (work[a : a + (1 << 16)].astype(np.float64) - m64) @ r64.T
    return y


def leaf_order(key: np.ndarray, node_range: np.ndarray, node_child: np.ndarray) -> np.ndarray:
    """(N,) permutation of tree positions sorting every leaf's points by key (vantage points
    stay): consecutive CHUNK-point runs of a leaf are then slabs along the first PCA axis."""
    order = np.arange(len(key))
    for node in np.flatnonzero(node_child[:, 0] < 0):
        lo, hi = int(node_range[node, 0]), int(node_range[node, 1])
        order[lo:hi] = lo + np.argsort(key[lo:hi], kind="stable")
    return order


def sketch_arrays(y: np.ndarray, mean: np.ndarray, rot: np.ndarray, node_range: np.ndarray,
                  node_child: np.ndarray, compiled: bool) -> dict[str, np.ndarray]:
    """Sketch codes (leaf-blocked), their scale, per-node and per-chunk sketch boxes."""
    n, s = y.shape
    peak = np.abs(y).max(axis=0) if n else np.zeros(s)
    step = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    sketch = np.clip(np.rint(y / step.astype(np.float64)), -127, 127).astype(np.int8)
    sbox = np.zeros((len(node_range), 2, s), np.int8)
    if n:
        fn = minmax_kernel if compiled else minmax_numpy
        fn(sketch, sketch, node_range, node_child, sbox)
    node_chunk = np.full(len(node_range), -1, np.int32)
    chunk_lo: list[np.ndarray] = []
    chunk_hi: list[np.ndarray] = []
    for node in np.flatnonzero(node_child[:, 0] < 0) if n else ():
        lo, hi = int(node_range[node, 0]), int(node_range[node, 1])
        node_chunk[node] = len(chunk_lo)
        starts = np.arange(lo, hi, CHUNK)
        chunk_lo += list(np.minimum.reduceat(sketch[lo:hi], starts - lo, axis=0))
        chunk_hi += list(np.maximum.reduceat(sketch[lo:hi], starts - lo, axis=0))
    blocked = _run_blocks(sketch, node_range, node_child)
    chunk_sbox = np.zeros((len(chunk_lo), 2, s), np.int8)
    if chunk_lo:
        chunk_sbox[:, 0] = np.asarray(chunk_lo)
        chunk_sbox[:, 1] = np.asarray(chunk_hi)
    return {"pca_mean": mean, "pca_rot": rot, "sketch": blocked, "sketch_step": step,
            "node_sbox": sbox, "node_chunk": node_chunk, "chunk_sbox": chunk_sbox}


def _run_blocks(codes: np.ndarray, node_range: np.ndarray, node_child: np.ndarray) -> np.ndarray:
    """(N * T,) codes laid out run-blocked: each run [a, b) of a leaf as a (T, b - a) block at
    [a * T, b * T), each vantage point as a block of one."""
    n, t = codes.shape
    blocked = np.empty(n * t, codes.dtype)
    for node in np.flatnonzero(node_child[:, 0] < 0) if n else ():
        lo, hi = int(node_range[node, 0]), int(node_range[node, 1])
        for a in range(lo, hi, CHUNK):
            b = min(hi, a + CHUNK)
            blocked[a * t : b * t] = codes[a:b].T.ravel()
    for lo in node_range[node_child[:, 0] >= 0, 0] if n else ():
        blocked[lo * t : (lo + 1) * t] = codes[lo]
    return blocked


def wsketch_arrays(work: np.ndarray, node_range: np.ndarray, node_child: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """uint8 codes of the WSKETCH_DIMS highest-variance coordinates, for the weighted filter."""
    n, dims = work.shape
    t = min(WSKETCH_DIMS, dims)
    if n:
        sample = work[np.linspace(0, n - 1, min(n, _PCA_SAMPLE)).astype(np.int64)]
        sel = np.sort(np.argsort(sample.astype(np.float64).var(axis=0), kind="stable")[::-1][:t])
        lo = work[:, sel].min(axis=0).astype(np.float64)
        hi = work[:, sel].max(axis=0).astype(np.float64)
    else:
        sel, lo, hi = np.arange(t), np.zeros(t), np.zeros(t)
    step = np.where(hi > lo, (hi - lo) / 255.0, 1.0).astype(np.float32)
    origin = lo.astype(np.float32)
    codes = np.clip(np.rint((work[:, sel].astype(np.float64) - origin.astype(np.float64))
                            / step.astype(np.float64)), 0, 255).astype(np.uint8)
    return {"wsketch": _run_blocks(codes, node_range, node_child),
            "wsketch_dims": sel.astype(np.int32), "wsketch_origin": origin, "wsketch_step": step}
