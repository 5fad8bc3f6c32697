"""PoseNet decoding in pure numpy: single-pose (argmax) and multi-pose (PersonLab greedy).

Inputs are the network's dequantised raw outputs for one image (a leading batch axis of 1 is
accepted and dropped), on an (h, w) grid with output stride ``stride``:

    heatmaps       (h, w, 17)  keypoint logits (sigmoid gives the keypoint probability)
    offsets        (h, w, 34)  short-range offsets in input pixels: channels 0..16 are y,
                               17..33 are x, per COCO-17 keypoint
    displacements  (h, w, 64)  mid-range displacements in input pixels, four blocks of 16 edges:
                               forward y, forward x, backward y, backward x (edge order of
                               :data:`EDGES`)

Outputs (:class:`DecodedPose`) are in *model-input pixel index* coordinates, as Coral reports
them: grid cell (i, j) is input pixel (y = i * stride, x = j * stride), so a keypoint is
``cell * stride + offset``; add 0.5 to get continuous coordinates (pixel centres at .5). ``xy``
is (17, 2) in (x, y) order.

Multi-pose follows PersonLab's fast greedy decoding exactly as Coral's PosenetDecoderOp does it:
local maxima (3x3 window) above the score threshold are root candidates, taken by score; a
candidate within ``nms_radius`` pixels of the same keypoint of an already decoded pose is
skipped; otherwise the pose is decoded by walking the 16-edge part tree outwards from the root
along the mid-range displacements, refining every part with 5 steps of its short offsets; poses
whose mean keypoint score is below the threshold are dropped; finally keypoints that overlap a
higher-scoring pose stop counting towards a pose's score (soft keypoint NMS) and poses are
re-sorted. Because the part graph is a tree, each part has exactly one path from the root, so
the walk is done level by level, vectorised across all root candidates at once.

That walk is this module's only hot loop (48 small numpy calls per batch). When numba is
available (:func:`kiosk.core.jit.use_numba`) it runs as one compiled loop instead
(:mod:`kiosk.pose.posenet_walk`, same arithmetic, same results); this numpy code is the reference
and the fallback, forced with ``jit=False`` or KIOSK_NO_NUMBA=1.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from kiosk.core.jit import use_numba
from kiosk.core.keypoints import NUM_KEYPOINTS

log = logging.getLogger(__name__)

NUM_EDGES = 16
REFINE_STEPS = 5

# (parent, child) in Coral's order: 16 forward edges then the same 16 reversed.
_FORWARD = (
    (0, 1), (1, 3), (0, 2), (2, 4), (0, 5), (5, 7), (7, 9), (5, 11),
    (11, 13), (13, 15), (0, 6), (6, 8), (8, 10), (6, 12), (12, 14), (14, 16),
)  # fmt: skip
EDGES: tuple[tuple[int, int], ...] = _FORWARD + tuple((c, p) for p, c in _FORWARD)


@dataclass(frozen=True)
class DecodedPose:
    """xy: (17, 2) float32 (x, y) in model-input pixel index coordinates; scores: (17,); score."""

    xy: np.ndarray
    scores: np.ndarray
    score: float


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logodds(p: float) -> float:
    return float(-np.log(1.0 / (p + 1e-6) - 1.0))


def _squeeze(a: np.ndarray, channels: int, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3 or a.shape[2] != channels:
        raise ValueError(f"{what} must be (h, w, {channels}), got {a.shape}")
    return a


def decode_single_pose(heatmaps: np.ndarray, offsets: np.ndarray, stride: int = 16) -> DecodedPose:
    """The PoseNet article's single-pose decoding: per-part argmax of the heatmap + short offset.

    Keypoint score = sigmoid(heatmap logit); pose score = mean keypoint score.
    """
    hm = _squeeze(heatmaps, NUM_KEYPOINTS, "heatmaps")
    off = _squeeze(offsets, 2 * NUM_KEYPOINTS, "offsets")
    h, w, k = hm.shape
    flat = hm.reshape(h * w, k)
    cell = flat.argmax(axis=0)
    parts = np.arange(k)
    ys, xs = np.divmod(cell, w)
    off_flat = off.reshape(h * w, 2 * k)
    y = ys * stride + off_flat[cell, parts]
    x = xs * stride + off_flat[cell, parts + k]
    scores = _sigmoid(flat[cell, parts]).astype(np.float32)
    xy = np.stack([x, y], axis=1).astype(np.float32)
    return DecodedPose(xy, scores, float(scores.mean()))


def _walk_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each root part: per tree level, the (node, parent, edge) to decode, padded with -1.

    Returns NODE, PARENT, EDGE of shape (17, depth + 1, width).
    """
    edge_of = {(p, c): e for e, (p, c) in enumerate(EDGES)}
    nbrs: dict[int, list[int]] = {k: [] for k in range(NUM_KEYPOINTS)}
    for p, c in _FORWARD:
        nbrs[p].append(c)
        nbrs[c].append(p)
    levels: list[list[list[tuple[int, int, int]]]] = []
    for root in range(NUM_KEYPOINTS):
        depth = {root: 0}
        per_level: list[list[tuple[int, int, int]]] = [[]]
        queue = deque([root])
        while queue:
            p = queue.popleft()
            for c in nbrs[p]:
                if c not in depth:
                    depth[c] = depth[p] + 1
                    while len(per_level) <= depth[c]:
                        per_level.append([])
                    per_level[depth[c]].append((c, p, edge_of[(p, c)]))
                    queue.append(c)
        levels.append(per_level)
    n_levels = max(len(lv) for lv in levels)
    width = max(len(step) for lv in levels for step in lv)
    tables = np.full((3, NUM_KEYPOINTS, n_levels, width), -1, dtype=np.intp)
    for r, per_level in enumerate(levels):
        for d, step in enumerate(per_level):
            for m, triple in enumerate(step):
                tables[:, r, d, m] = triple
    return tables[0], tables[1], tables[2]


_NODE, _PARENT, _EDGE = _walk_tables()
#: number of tree levels (root included) per root part
_DEPTH = 1 + (_NODE >= 0).any(axis=2).sum(axis=1)


def _mid_channels(coral_quirk: bool) -> np.ndarray:
    """(32, 2) displacement channels (y, x) per directed edge id."""
    e = np.arange(2 * NUM_EDGES)
    # forward edges use blocks 0/1, backward edges blocks 2/3. Coral's decoder tests
    # `edge_id > kNumEdges`, so the first backward edge (left eye -> nose) reads the forward
    # blocks' channels 16/32 instead of 32/48; coral_quirk reproduces that.
    shifted = e > NUM_EDGES if coral_quirk else e >= NUM_EDGES
    ch_y = np.where(shifted, e + NUM_EDGES, e)
    return np.stack([ch_y, ch_y + NUM_EDGES], axis=1)


_MID_CH = {False: _mid_channels(False), True: _mid_channels(True)}
_SHORT_CH = np.stack([np.arange(NUM_KEYPOINTS), np.arange(NUM_KEYPOINTS) + NUM_KEYPOINTS], axis=1)


class _Grid:
    """Bilinear sampling of an (h, w, c) tensor at continuous grid positions.

    Positions must be clamped to [0, h-1] x [0, w-1]. The tensor is padded with one zero row and
    column so the +1 neighbours never need clamping (their weight is 0 exactly on the border).
    """

    def __init__(self, tensor: np.ndarray) -> None:
        self.h, self.w, self.c = tensor.shape
        padded = np.zeros((self.h + 1, self.w + 1, self.c), dtype=np.float32)
        padded[: self.h, : self.w] = tensor
        self.flat = padded.reshape(-1)
        row = (self.w + 1) * self.c
        self.steps = np.array([row, self.c], dtype=np.intp)
        self.corners = np.array([[0, self.c], [row, row + self.c]], dtype=np.intp)[..., None, None]
        self.upper = np.array([self.h - 1, self.w - 1], dtype=np.float32)

    def sample(self, p: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """p: (n, 2) float32 positions (y, x); channels: (n, k) -> (n, k) interpolated values."""
        p0 = np.floor(p)
        frac = p - p0
        idx = (p0.astype(np.intp) @ self.steps)[:, None] + channels
        v = self.flat[self.corners + idx]  # (2, 2, n, k): [row y0|y1][col x0|x1]
        rows = v[:, 0] + (v[:, 1] - v[:, 0]) * frac[:, 1:2]
        return rows[0] + (rows[1] - rows[0]) * frac[:, 0:1]

    def clamp(self, p: np.ndarray) -> np.ndarray:
        np.maximum(p, 0.0, out=p)
        return np.minimum(p, self.upper, out=p)


def _decode_candidates(
    hm: _Grid,
    shorts: _Grid,
    mids: _Grid,
    roots: np.ndarray,
    rk: np.ndarray,
    stride: int,
    mid_ch: np.ndarray,
    refine_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one pose per root candidate (roots (n, 2) grid (y, x), parts rk (n,)).

    Returns keypoints (n, 17, 2) in grid units (y, x) and their logits (n, 17).
    """
    n = len(rk)
    kp = np.zeros((n, NUM_KEYPOINTS, 2), dtype=np.float32)
    rows = np.arange(n)
    kp[rows, rk] = roots
    inv = np.float32(1.0 / stride)
    for level in range(1, int(_DEPTH[rk].max())):
        nodes = _NODE[rk, level]
        bi, mi = np.nonzero(nodes >= 0)
        node = nodes[bi, mi]
        rkb = rk[bi]
        p = kp[bi, _PARENT[rkb, level, mi]]
        p += mids.sample(p, mid_ch[_EDGE[rkb, level, mi]]) * inv
        mids.clamp(p)
        short_ch = _SHORT_CH[node]
        for _ in range(refine_steps):
            p += shorts.sample(p, short_ch) * inv
            shorts.clamp(p)
        kp[bi, node] = p
    flat = kp.reshape(-1, 2)
    parts = np.tile(np.arange(NUM_KEYPOINTS), n)[:, None]
    logits = hm.sample(flat, parts).reshape(n, NUM_KEYPOINTS)
    return kp, logits


def root_candidates(
    heatmaps: np.ndarray, score_threshold: float, local_max_radius: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of the logits >= logodds(threshold): (ys, xs, parts, logits) by logit desc."""
    local_max = heatmaps
    for axis in (0, 1):  # separable max filter over a (2r+1) x (2r+1) window
        src = local_max
        local_max = src.copy()
        n = src.shape[axis]
        for shift in range(1, local_max_radius + 1):
            if shift >= n:
                break
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(0, n - shift), slice(shift, n)
            np.maximum(local_max[tuple(lo)], src[tuple(hi)], out=local_max[tuple(lo)])
            np.maximum(local_max[tuple(hi)], src[tuple(lo)], out=local_max[tuple(hi)])
    mask = (heatmaps >= _logodds(score_threshold)) & (heatmaps >= local_max)
    ys, xs, ks = np.nonzero(mask)
    logits = heatmaps[ys, xs, ks]
    order = np.argsort(-logits, kind="stable")
    return ys[order], xs[order], ks[order], logits[order]


def decode_multiple_poses(
    heatmaps: np.ndarray,
    offsets: np.ndarray,
    displacements: np.ndarray,
    *,
    max_poses: int = 10,
    score_threshold: float = 0.2,
    nms_radius: float = 10.0,
    stride: int = 16,
    local_max_radius: int = 1,
    refine_steps: int = REFINE_STEPS,
    coral_quirk: bool = False,
    chunk: int = 128,
    jit: bool | None = None,
) -> list[DecodedPose]:
    """PersonLab fast greedy multi-pose decoding (Coral's PosenetDecoderOp, in numpy).

    Defaults are the parameters baked into Coral's decoder models (10 poses, threshold 0.2,
    NMS radius 10 px, stride 16). Returns poses sorted by score, highest first.
    coral_quirk=True reproduces Coral's off-by-one channel choice for the left eye -> nose edge.
    chunk: how many root candidates are decoded per vectorised batch.
    jit: walk the part tree with the numba kernel (kiosk.pose.posenet_walk) or the numpy
    reference (_decode_candidates); None = numba when use_numba() (installed, KIOSK_NO_NUMBA unset).
    """
    hm_t = _squeeze(heatmaps, NUM_KEYPOINTS, "heatmaps")
    off_t = _squeeze(offsets, 2 * NUM_KEYPOINTS, "offsets")
    mid_t = _squeeze(displacements, 4 * NUM_EDGES, "displacements")
    hm, shorts, mids = _Grid(hm_t), _Grid(off_t), _Grid(mid_t)
    ys, xs, ks, _ = root_candidates(hm_t, score_threshold, local_max_radius)
    if len(ks) == 0:
        return []
    off_flat = off_t.reshape(-1, 2 * NUM_KEYPOINTS)
    cell = ys * hm.w + xs
    roots = np.stack([ys + off_flat[cell, ks] / stride, xs + off_flat[cell, ks + NUM_KEYPOINTS] / stride], 1)
    roots = hm.clamp(roots.astype(np.float32))
    mid_ch = _MID_CH[bool(coral_quirk)]
    r2 = (nms_radius / stride) ** 2
    decode = _decode_candidates
    if use_numba() if jit is None else jit:
        from kiosk.pose.posenet_walk import decode_candidates_compiled as decode

    accepted: list[np.ndarray] = []  # (17, 2) grid (y, x) of accepted poses
    acc_s: list[np.ndarray] = []  # their keypoint probabilities
    start = 0
    while len(accepted) < max_poses and start < len(ks):
        idx = np.arange(start, min(start + chunk, len(ks)))
        start = int(idx[-1]) + 1
        chunk *= 2
        if accepted:  # drop candidates already suppressed by accepted poses
            d2 = ((np.array(accepted)[:, ks[idx]] - roots[idx]) ** 2).sum(axis=2)
            idx = idx[~(d2 <= r2).any(axis=0)]
            if len(idx) == 0:
                continue
        kp, logits = decode(hm, shorts, mids, roots[idx], ks[idx], stride, mid_ch, refine_steps)
        probs = _sigmoid(logits)
        inst = probs.mean(axis=1).tolist()
        for j, (k, (y0, x0)) in enumerate(zip(ks[idx].tolist(), roots[idx].tolist(), strict=True)):
            if len(accepted) >= max_poses:
                break
            if inst[j] < score_threshold:
                continue  # (rejected poses never suppress later candidates)
            if any((a[k, 0] - y0) ** 2 + (a[k, 1] - x0) ** 2 <= r2 for a in accepted):
                continue
            accepted.append(kp[j])
            acc_s.append(probs[j])
    if not accepted:
        return []
    kps, ps = np.array(accepted), np.array(acc_s)
    scores = _soft_nms_scores(kps, ps, r2)
    out = []
    for i in np.argsort(-scores, kind="stable"):
        if scores[i] < score_threshold:
            break
        xy = kps[i][:, ::-1] * np.float32(stride)
        out.append(DecodedPose(xy.astype(np.float32), ps[i].astype(np.float32), float(scores[i])))
    return out


def _soft_nms_scores(kps: np.ndarray, ps: np.ndarray, r2: float) -> np.ndarray:
    """Pose scores = sum of keypoint scores not within r of a higher-ranked pose's same part / 17.

    kps: (P, 17, 2) grid positions; ps: (P, 17) keypoint probabilities.
    """
    order = np.argsort(-ps.mean(axis=1), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    d2 = ((kps[:, None] - kps[None]) ** 2).sum(axis=3)  # (P, P, 17)
    higher = rank[None, :] < rank[:, None]  # [i, j]: j ranks above i
    occluded = ((d2 <= r2) & higher[:, :, None]).any(axis=1)
    return np.where(occluded, 0.0, ps).sum(axis=1) / NUM_KEYPOINTS
