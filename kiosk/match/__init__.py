"""Pose matching: normalisation, distances and the VP-tree index."""

from __future__ import annotations

from kiosk.match.distance import (
    cosine_distance,
    cosine_similarity,
    query_weights,
    weighted_distance,
)
from kiosk.match.normalize import (
    DEFAULT_MIN_SCORE,
    POINT_POSE,
    flip_vector,
    normalize_xy,
    pose_vector,
    weighted_layout,
)
from kiosk.match.treefile import IndexFormatError
from kiosk.match.vptree import VPTree

__all__ = [
    "DEFAULT_MIN_SCORE",
    "POINT_POSE",
    "IndexFormatError",
    "VPTree",
    "cosine_distance",
    "cosine_similarity",
    "flip_vector",
    "normalize_xy",
    "pose_vector",
    "query_weights",
    "weighted_distance",
    "weighted_layout",
]
