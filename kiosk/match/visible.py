"""The ``visible`` metric: poses compared on the keypoints the camera sees.

A *profile* is a set of body keypoints (COCO-17 indices; the eyes and ears never count). A
query sees a set S of them (score >= VISIBLE_MIN_SCORE). It uses the largest *stored*
profile (PROFILES: a whole visitor ``full``, a seated one ``torso_arms``, one standing close
``upper``, one half hidden ``left_side``...) contained in S when that leaves at most one seen
keypoint out; otherwise S itself is the profile (a *dynamic* profile, a tuple of indices,
searched exhaustively). Fewer than MIN_SEEN seen keypoints: no profile, no match. An archive
entry takes part in a profile's search only when it shows every keypoint of that profile.

Normalisation over a profile's keypoints only (nothing unseen is clipped anywhere):
translate so their centroid is (0, 0), then divide by the L2 norm of the 2|P| values
(aspect ratio kept). The result is a unit vector, so the distance between two of them is
the Euclidean distance ||a - b|| = sqrt(2 (1 - cos)) in [0, 2]: a true metric, searched
exactly with a VP-tree per profile. Vectors are interleaved (x0, y0, x1, y1, ...) in the
profile's keypoint order.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from kiosk.pose.types import NUM_KEYPOINTS

log = logging.getLogger(__name__)

#: Identifies this normalisation (stored in index manifests; bump when the vectors change).
VISIBLE_VERSION = "visible-centroid-l2/v1"
#: A query keypoint scored at least this is "seen" (the builder's Filters.keypoint_score).
VISIBLE_MIN_SCORE = 0.2
#: A query seeing fewer body keypoints than this is not matched (nothing to tell poses apart).
MIN_SEEN = 4
#: An archive entry takes part in a profile when its keypoints reach this: archive photos are
#: curated whole people, so a turned-away face (a low nose score) does not drop an entry.
ENTRY_MIN_SCORE = 0.05

_NOSE, _SH, _EL, _WR, _HIP, _KN, _AN = (0,), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)
_ARMS = _SH + _EL + _WR
_LEGS = _HIP + _KN + _AN

#: name -> keypoint indices, largest first (the order breaks ties between equal sizes).
PROFILES: dict[str, tuple[int, ...]] = {
    "full": _NOSE + _ARMS + _LEGS,
    "body": _ARMS + _LEGS,  # head turned away or covered
    "no_left_arm": _NOSE + _SH + (8, 10) + _LEGS,
    "no_right_arm": _NOSE + _SH + (7, 9) + _LEGS,
    "no_left_leg": _NOSE + _ARMS + _HIP + (14, 16),
    "no_right_leg": _NOSE + _ARMS + _HIP + (13, 15),
    "torso_arms": _NOSE + _ARMS + _HIP,  # seated, or legs out of the picture
    "upper": _NOSE + _ARMS,  # standing close: waist up
    "left_side": (5, 7, 9, 11, 13, 15),
    "right_side": (6, 8, 10, 12, 14, 16),
    "lower": _LEGS,
    "upper_body": _ARMS,  # waist up, head turned away
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)
#: The keypoints a profile may use (eyes and ears are too unsure to tell poses apart).
CORE: tuple[int, ...] = PROFILES["full"]
#: (profiles, 17) bool: each stored profile's keypoints; (profiles,) their sizes (choose_profile).
_MASKS = np.zeros((len(PROFILES), NUM_KEYPOINTS), dtype=bool)
for _row, _idx in enumerate(PROFILES.values()):
    _MASKS[_row, list(_idx)] = True
_SIZES = _MASKS.sum(axis=1)

#: A stored profile's name, or a dynamic profile's keypoint indices (sorted).
Profile = str | tuple[int, ...]


def indices(profile: Profile) -> list[int]:
    """The keypoint indices of a stored or dynamic profile."""
    return list(PROFILES[profile]) if isinstance(profile, str) else list(profile)


def nearest_stored(profile: Profile) -> str:
    """The stored profile most like a dynamic one (for its calibration table)."""
    if isinstance(profile, str):
        return profile
    s = set(profile)
    return max(PROFILES, key=lambda n: (len(s & set(PROFILES[n])) - len(set(PROFILES[n]) - s),
                                        -len(PROFILES[n])))


def visible_mask(scores: np.ndarray, min_score: float = VISIBLE_MIN_SCORE) -> np.ndarray:
    """(..., 17) bool: keypoints seen (score >= min_score); scores (..., 17)."""
    s = np.asarray(scores, dtype=np.float64)
    if min_score > 0.0:  # NaN compares False: unseen, as a score of 0 is (and faster than nan_to_num)
        return np.asarray(s >= min_score)
    return np.asarray(np.nan_to_num(s, nan=0.0) >= min_score)


def eligible(scores: np.ndarray, profile: Profile, min_score: float = ENTRY_MIN_SCORE) -> np.ndarray:
    """(N,) bool: rows of scores (N, 17) that show every keypoint of the profile."""
    seen = visible_mask(np.asarray(scores).reshape(-1, NUM_KEYPOINTS), min_score)
    return np.asarray(seen[:, indices(profile)].all(axis=1))


def choose_profile(scores: np.ndarray, min_score: float = VISIBLE_MIN_SCORE) -> Profile | None:
    """The profile a query pose (scores (17,)) is matched on (see the module doc)."""
    return _profile_of(visible_mask(scores, min_score).reshape(NUM_KEYPOINTS).tobytes())


@functools.lru_cache(maxsize=1024)
def _profile_of(seen_bytes: bytes) -> Profile | None:
    """choose_profile of a seen mask ((17,) bool as bytes: a visitor's masks repeat)."""
    seen_mask = np.frombuffer(seen_bytes, dtype=bool)
    seen = tuple(i for i in CORE if seen_mask[i])
    if len(seen) < MIN_SEEN:
        return None
    shown = ~(_MASKS & ~seen_mask).any(axis=1)  # the stored profiles the pose shows whole
    if shown.any():
        best = int(np.argmax(np.where(shown, _SIZES, -1)))  # the largest; ties: the first
        if _SIZES[best] >= len(seen) - 1:
            return PROFILE_NAMES[best]
    return seen


def profile_vectors(xy: np.ndarray, profile: Profile) -> np.ndarray:
    """Unit vectors of the profile's keypoints, centred on their centroid.

    xy: (17, 2) or (N, 17, 2) keypoints (x, y), any units. Returns (2|P|,) or (N, 2|P|)
    float32. A degenerate pose (all profile keypoints at one point) gives the constant
    vector 1/sqrt(2|P|) (never NaN; far from any real pose).
    """
    a = np.asarray(xy, dtype=np.float64)
    single = a.ndim == 2
    a = a.reshape(-1, NUM_KEYPOINTS, 2)[:, indices(profile)]
    if not np.all(np.isfinite(a)):
        raise ValueError("xy contains NaN or infinite coordinates")
    a = a - a.mean(axis=1, keepdims=True)
    v = a.reshape(len(a), 2 * a.shape[1])  # explicit width: N may be 0 (no eligible entry)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    out = np.where(norm > 1e-12, v / np.where(norm > 1e-12, norm, 1.0), 1.0 / np.sqrt(v.shape[1]))
    out = out.astype(np.float32)
    return out[0] if single else out


def visible_distance(q_xy: np.ndarray, g_xy: np.ndarray, profile: Profile) -> float | np.ndarray:
    """||a - b|| of the profile vectors: q_xy (17, 2), g_xy (17, 2) or (N, 17, 2)."""
    q = profile_vectors(q_xy, profile).astype(np.float64)
    g = profile_vectors(g_xy, profile).astype(np.float64)
    d = np.linalg.norm(g - q, axis=-1)
    return float(d) if np.ndim(d) == 0 else d


def brute_visible(
    xy: np.ndarray, scores: np.ndarray, q_xy: np.ndarray, q_scores: np.ndarray, k: int = 1
) -> tuple[Profile | None, np.ndarray, np.ndarray]:
    """Exact reference: (profile, (k,) ids, (k,) distances) over archive keypoints
    xy (N, 17, 2) and scores (N, 17); ineligible entries never match; ties to the lower id."""
    profile = choose_profile(q_scores)
    ids = np.full(k, -1, dtype=np.int64)
    dist = np.full(k, np.inf)
    if profile is None or len(xy) == 0:
        return profile, ids, dist
    ok = eligible(scores, profile)
    d = np.where(ok, visible_distance(q_xy, np.asarray(xy)[:, :, :2], profile), np.inf)
    order = np.lexsort((np.arange(len(d)), d))[:k]
    order = order[np.isfinite(d[order])]
    ids[: len(order)] = order
    dist[: len(order)] = d[order]
    return profile, ids, dist
