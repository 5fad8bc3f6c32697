"""Compiled (numba) part-tree walk for PoseNet multi-pose decoding.

The same computation as :func:`kiosk.pose.posenet_decode._decode_candidates`, which stays the
readable pure-numpy reference and the fallback: for every root candidate, walk the part tree
level by level from the root, each part = its parent + the mid-range displacement bilinearly
sampled at the parent (then clamped to the grid), followed by ``refine_steps`` steps of its own
short-range offset (each clamped), and finally sample every keypoint's heatmap logit. The numpy
version does this as ~48 small vectorised calls across all candidates; here it is one loop over
candidates, levels and refinement steps, in float32 with the same sampling, order of operations
and clamping, so both give the same keypoints (to float rounding).

All positions are grid units in (y, x) order; tensors are the zero-padded, flattened
``(h + 1) * (w + 1) * c`` arrays of :class:`kiosk.pose.posenet_decode._Grid`.
Used when :func:`kiosk.core.jit.use_numba` is true (numba installed, KIOSK_NO_NUMBA unset).
"""

from __future__ import annotations

import numpy as np

from kiosk.core.jit import njit, use_numba
from kiosk.pose.posenet_decode import (
    _DEPTH,
    _EDGE,
    _NODE,
    _PARENT,
    NUM_KEYPOINTS,
    _Grid,
    decode_multiple_poses,
)


@njit()
def _clamp(v: np.float32, upper: np.float32) -> np.float32:
    """Clamp to [0, upper] (a NaN becomes 0, so it can never index outside the grid)."""
    if not v >= 0:
        return np.float32(0.0)
    if v > upper:
        return upper
    return v


@njit()
def _sample(flat: np.ndarray, row: int, c: int, y: np.float32, x: np.float32, ch: int) -> np.float32:
    """Bilinear value of channel ch at clamped grid position (y, x) of a padded flat tensor.

    row = (w + 1) * c is the padded row stride; c the channel count. Same arithmetic as
    _Grid.sample: interpolate along x in rows y0 and y0+1, then along y.
    """
    iy = int(y)  # y, x >= 0 (clamped), so truncation is floor
    ix = int(x)
    fy = y - np.float32(iy)
    fx = x - np.float32(ix)
    i = iy * row + ix * c + ch
    v00 = flat[i]
    v01 = flat[i + c]
    v10 = flat[i + row]
    v11 = flat[i + row + c]
    r0 = v00 + (v01 - v00) * fx
    r1 = v10 + (v11 - v10) * fx
    return r0 + (r1 - r0) * fy


@njit()
def walk_kernel(
    roots: np.ndarray,
    rk: np.ndarray,
    node: np.ndarray,
    parent: np.ndarray,
    edge: np.ndarray,
    depth: np.ndarray,
    mid_ch: np.ndarray,
    hm: np.ndarray,
    shorts: np.ndarray,
    mids: np.ndarray,
    w1: int,
    c_hm: int,
    c_short: int,
    c_mid: int,
    upper_y: np.float32,
    upper_x: np.float32,
    inv: np.float32,
    refine_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one pose per root candidate.

    roots (n, 2) float32 root positions (y, x); rk (n,) int root parts; node / parent / edge
    (17, levels, width) int walk tables padded with -1 and depth (17,) levels per root part
    (posenet_decode._NODE, _PARENT, _EDGE, _DEPTH); mid_ch (32, 2) int displacement channels
    (y, x) per directed edge; hm / shorts / mids the padded flat tensors with w1 = w + 1 and
    c_* channels; upper_y / upper_x = h - 1 / w - 1; inv = 1 / stride (float32).
    Returns keypoints (n, 17, 2) float32 grid (y, x) and their heatmap logits (n, 17) float32.
    """
    n = rk.shape[0]
    k = NUM_KEYPOINTS
    row_hm = w1 * c_hm
    row_short = w1 * c_short
    row_mid = w1 * c_mid
    kp = np.zeros((n, k, 2), dtype=np.float32)
    logits = np.empty((n, k), dtype=np.float32)
    for i in range(n):
        r = rk[i]
        kp[i, r, 0] = roots[i, 0]
        kp[i, r, 1] = roots[i, 1]
        for level in range(1, depth[r]):
            for m in range(node.shape[2]):
                c = node[r, level, m]
                if c < 0:
                    continue
                p = parent[r, level, m]
                e = edge[r, level, m]
                y = kp[i, p, 0]
                x = kp[i, p, 1]
                dy = _sample(mids, row_mid, c_mid, y, x, mid_ch[e, 0])
                dx = _sample(mids, row_mid, c_mid, y, x, mid_ch[e, 1])
                y = _clamp(y + dy * inv, upper_y)
                x = _clamp(x + dx * inv, upper_x)
                for _ in range(refine_steps):
                    dy = _sample(shorts, row_short, c_short, y, x, c)
                    dx = _sample(shorts, row_short, c_short, y, x, c + k)
                    y = _clamp(y + dy * inv, upper_y)
                    x = _clamp(x + dx * inv, upper_x)
                kp[i, c, 0] = y
                kp[i, c, 1] = x
        for j in range(k):
            logits[i, j] = _sample(hm, row_hm, c_hm, kp[i, j, 0], kp[i, j, 1], j)
    return kp, logits


def decode_candidates_compiled(
    hm: _Grid,
    shorts: _Grid,
    mids: _Grid,
    roots: np.ndarray,
    rk: np.ndarray,
    stride: int,
    mid_ch: np.ndarray,
    refine_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Drop-in for posenet_decode._decode_candidates (same arguments and results) via walk_kernel.

    roots (n, 2) grid (y, x), rk (n,) root parts -> keypoints (n, 17, 2) grid (y, x), logits (n, 17).
    """
    return walk_kernel(
        np.ascontiguousarray(roots, dtype=np.float32),
        np.ascontiguousarray(rk, dtype=np.intp),
        _NODE, _PARENT, _EDGE, _DEPTH, mid_ch,
        hm.flat, shorts.flat, mids.flat,
        hm.w + 1, hm.c, shorts.c, mids.c,
        hm.upper[0], hm.upper[1], np.float32(1.0 / stride), int(refine_steps),
    )  # fmt: skip


def warm_up() -> None:
    """Compile walk_kernel (or load it from numba's cache) on a tiny synthetic input, so the first
    real frame does not pay for it. A no-op without numba."""
    if not use_numba():
        return
    hm = np.full((3, 4, NUM_KEYPOINTS), -8.0, np.float32)
    hm[1, 1, 0] = 3.0
    off = np.zeros((3, 4, 2 * NUM_KEYPOINTS), np.float32)
    disp = np.zeros((3, 4, 64), np.float32)
    decode_multiple_poses(hm, off, disp, jit=True)
