"""Move Mirror's pose normalisation: bounding-box crop, scale, L2-normalised 34-vector.

A pose's 17 (x, y) keypoints become one unit vector of 34 float32 values, interleaved
(x0, y0, x1, y1, ...) in COCO-17 keypoint order, as Move Mirror did:

1. The bounding box is taken over the *confident* keypoints (score >= min_score).
2. Low-confidence keypoints are clipped into that box (a wild guess far outside the body
   cannot dominate the vector; the weighted distance gives them little weight anyway).
3. Every point is translated so the box's top-left corner is (0, 0) and scaled by the box's
   longer side (aspect ratio kept), then the 34 values are L2-normalised.

Degenerate poses never produce NaN:

- fewer than two confident keypoints, or confident keypoints that are all equal: the box is
  taken over *all* 17 keypoints instead (none are clipped);
- all 17 keypoints equal (a zero-size box even then): the result is the "point pose", every
  keypoint at the centre of the unit box, i.e. the constant vector 1/sqrt(34).

All coordinates of a normalised vector are >= 0 and it has unit norm, so the cosine
distance of two of them lies in [0, sqrt(2)].
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.pose.types import FLIP_INDEX, NUM_KEYPOINTS, Pose

log = logging.getLogger(__name__)

#: Identifies this normalisation (stored in index manifests; bump when the vectors change).
NORMALIZATION_VERSION = "movemirror-bbox-l2/clip-low-conf/v1"
#: Keypoints scored below this are "low confidence" (clipped into the confident box).
DEFAULT_MIN_SCORE = 0.1
#: Length of a pose vector: 17 interleaved (x, y).
DIMS = 2 * NUM_KEYPOINTS
#: The vector of a degenerate pose (all keypoints at one point).
POINT_POSE = np.full(DIMS, 1.0 / np.sqrt(DIMS), dtype=np.float32)
_FLIP = np.asarray(FLIP_INDEX, dtype=np.intp)


def normalize_xy(
    xy: np.ndarray, scores: np.ndarray | None = None, min_score: float = DEFAULT_MIN_SCORE
) -> np.ndarray:
    """Normalised pose vector(s).

    xy:     (17, 2) or (N, 17, 2) keypoints (x, y), any units (pixels usually).
    scores: (17,) or (N, 17) keypoint confidences, or None (all confident).
    Returns (34,) or (N, 34) float32, interleaved x0, y0, x1, y1, ..., unit L2 norm, >= 0.
    """
    xy = np.asarray(xy, dtype=np.float64)
    single = xy.ndim == 2
    if single:
        xy = xy[None]
    if xy.ndim != 3 or xy.shape[1:] != (NUM_KEYPOINTS, 2):
        raise ValueError(f"xy must have shape (17, 2) or (N, 17, 2), got {np.shape(xy)}")
    n = xy.shape[0]
    if scores is None:
        sc = np.ones((n, NUM_KEYPOINTS))
    else:
        sc = np.asarray(scores, dtype=np.float64).reshape(-1, NUM_KEYPOINTS)
        if sc.shape[0] != n:
            raise ValueError(f"scores shape {np.shape(scores)} does not match xy {np.shape(xy)}")
    if not np.all(np.isfinite(xy)):
        raise ValueError("xy contains NaN or infinite coordinates")
    sc = np.nan_to_num(sc, nan=0.0)

    conf = sc >= min_score  # (N, 17)
    big = np.inf
    lo = np.where(conf[..., None], xy, big).min(axis=1)  # (N, 2)
    hi = np.where(conf[..., None], xy, -big).max(axis=1)
    # Fall back to all keypoints when the confident box is empty or a single point.
    fallback = (conf.sum(axis=1) < 2) | np.all(hi - lo <= 0, axis=1)
    lo = np.where(fallback[:, None], xy.min(axis=1), lo)
    hi = np.where(fallback[:, None], xy.max(axis=1), hi)

    pts = np.clip(xy, lo[:, None, :], hi[:, None, :])
    side = (hi - lo).max(axis=1)  # (N,)
    degenerate = side <= 0
    safe_side = np.where(degenerate, 1.0, side)
    pts = (pts - lo[:, None, :]) / safe_side[:, None, None]
    vec = pts.reshape(n, DIMS)
    norm = np.linalg.norm(vec, axis=1)
    degenerate |= norm <= 0
    vec = vec / np.where(degenerate, 1.0, norm)[:, None]
    out = vec.astype(np.float32)
    out[degenerate] = POINT_POSE
    if degenerate.any():
        log.debug("%d degenerate pose(s) mapped to the point pose", int(degenerate.sum()))
    return out[0] if single else out


def pose_vector(pose: Pose, min_score: float = DEFAULT_MIN_SCORE) -> tuple[np.ndarray, np.ndarray]:
    """(vector, confidences) of a Pose: ((34,) float32 unit vector, (17,) float32 scores)."""
    vec = normalize_xy(pose.xy, pose.scores, min_score)
    return vec, np.asarray(pose.scores, dtype=np.float32).copy()


def weighted_layout(vec34: np.ndarray, conf17: np.ndarray) -> np.ndarray:
    """Move Mirror's 52-float layout: 34 coordinates, 17 confidences, their sum.

    vec34: (34,) or (N, 34); conf17: (17,) or (N, 17). Returns (52,) or (N, 52) float32.
    """
    v = np.asarray(vec34, dtype=np.float32)
    c = np.asarray(conf17, dtype=np.float32)
    if v.shape[-1] != DIMS or c.shape[-1] != NUM_KEYPOINTS or v.shape[:-1] != c.shape[:-1]:
        raise ValueError(f"expected (..., 34) and (..., 17), got {v.shape} and {c.shape}")
    total = c.sum(axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
    return np.concatenate([v, c, total], axis=-1)


def flip_vector(vec34: np.ndarray) -> np.ndarray:
    """The mirrored pose vector: x reflected within the pose's box, left/right swapped.

    vec34: (34,) or (N, 34) normalised vectors. Returns the same shape, float32, unit norm.
    For a vector made by normalize_xy this equals normalize_xy of the mirrored pose
    (up to float rounding): the box's left edge is x = 0, so x -> max(x) + min(x) - x.
    """
    v = np.asarray(vec34, dtype=np.float64)
    if v.ndim not in (1, 2) or v.shape[-1] != DIMS:
        raise ValueError(f"expected (34,) or (N, 34), got {v.shape}")
    single = v.ndim == 1
    v = v.reshape(-1, NUM_KEYPOINTS, 2)
    x = v[..., 0]
    x = x.max(axis=1, keepdims=True) + x.min(axis=1, keepdims=True) - x
    out = np.stack([x, v[..., 1]], axis=-1)[:, _FLIP].reshape(-1, DIMS)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    out = np.where(norm > 0, out / np.where(norm > 0, norm, 1.0), POINT_POSE)
    out = out.astype(np.float32)
    return out[0] if single else out
