"""Distances between pose vectors (pure numpy, broadcasting over leading axes).

cosine_distance(a, b) = sqrt(2 * (1 - cos(a, b))): for unit vectors this is exactly the
Euclidean distance ||a - b||, a true metric (what the VP-tree is built with).

weighted_distance(q, c, g) = (1 / sum(c)) * sum_k c[k] * (|qx_k - gx_k| + |qy_k - gy_k|):
Move Mirror's confidence-weighted L1 distance, confidences taken from the query only.
When the query's confidences sum to zero every keypoint weighs 1/17 (never NaN).
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.pose.types import NUM_KEYPOINTS

log = logging.getLogger(__name__)

DIMS = 2 * NUM_KEYPOINTS


def _scalar_or_array(x: np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(x) == 0 else x


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """cos(a, b) in [-1, 1].

    a: (..., D), b: (..., D) broadcasting (e.g. (34,) vs (N, 34) -> (N,)).
    A zero vector has similarity 0 with everything.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"dimension mismatch: {a.shape} vs {b.shape}")
    dot = np.sum(a * b, axis=-1)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    denom = na * nb
    cos = np.where(denom > 0, dot / np.where(denom > 0, denom, 1.0), 0.0)
    return _scalar_or_array(np.clip(cos, -1.0, 1.0))


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """sqrt(2 * (1 - cos(a, b))) in [0, 2]; shapes as cosine_similarity."""
    cos = np.asarray(cosine_similarity(a, b))
    return _scalar_or_array(np.sqrt(np.maximum(2.0 * (1.0 - cos), 0.0)))


def query_weights(q_conf17: np.ndarray) -> np.ndarray:
    """Per-coordinate weights (..., 34) float64: conf / sum(conf) repeated for x and y.

    q_conf17: (..., 17) confidences >= 0. Zero total -> uniform 1/17. Each row sums to 2.
    """
    c = np.clip(np.asarray(q_conf17, dtype=np.float64), 0.0, None)
    if c.shape[-1] != NUM_KEYPOINTS:
        raise ValueError(f"confidences must have 17 values, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("confidences contain NaN or infinite values")
    total = c.sum(axis=-1, keepdims=True)
    w = np.where(total > 0, c / np.where(total > 0, total, 1.0), 1.0 / NUM_KEYPOINTS)
    return np.repeat(w, 2, axis=-1)


def weighted_distance(
    q_vec34: np.ndarray, q_conf17: np.ndarray, g_vec34: np.ndarray
) -> float | np.ndarray:
    """Move Mirror's weighted distance from query (q_vec34, q_conf17) to gallery g_vec34.

    q_vec34: (..., 34), q_conf17: (..., 17), g_vec34: (..., 34), broadcasting
    (e.g. (34,), (17,), (N, 34) -> (N,)). Returns >= 0, float64.
    """
    q = np.asarray(q_vec34, dtype=np.float64)
    g = np.asarray(g_vec34, dtype=np.float64)
    if q.shape[-1] != DIMS or g.shape[-1] != DIMS:
        raise ValueError(f"pose vectors must have 34 values, got {q.shape} and {g.shape}")
    w = query_weights(q_conf17)
    return _scalar_or_array(np.sum(w * np.abs(q - g), axis=-1))
