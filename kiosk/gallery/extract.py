"""Who in a frame becomes an entry: person selection, quality filters, near-duplicate removal.

Defaults (documented in docs/gallery.md; each is a build option):

| filter                | default | meaning                                                         |
|-----------------------|---------|-----------------------------------------------------------------|
| min_pose_score        | 0.30    | the pose's own confidence                                        |
| keypoint_score        | 0.20    | a keypoint is *confident* at or above this score                |
| min_keypoints         | 11      | confident keypoints needed (of 17)                              |
| full_body             | True    | like Move Mirror: head, both shoulders, hips, knees and ankles  |
| min_person_height     | 0.25    | person height (confident keypoints) / frame height              |
| min_person_px         | 96      | person height in source pixels                                  |
| dedupe_distance       | 0.05    | within a source, drop a pose closer than this (cosine) to a kept |

The *dominant* person of a frame is the one with the largest confident-keypoint box (ties: the
higher score); with `every_person` each detected person is a candidate of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

#: Discard reasons (summary keys), in the order filters are applied. STILL is a video frame the
#: model never saw: it barely differed from the last frame that was estimated (--skip-still).
STILL = "unchanged frame"
NO_PERSON = "no person"
LOW_SCORE = "low pose score"
FEW_KEYPOINTS = "few confident keypoints"
NOT_FULL_BODY = "not full body"
TOO_SMALL = "person too small"
DUPLICATE = "near duplicate"
REASONS = (STILL, NO_PERSON, LOW_SCORE, FEW_KEYPOINTS, NOT_FULL_BODY, TOO_SMALL, DUPLICATE)

#: Keypoint groups a full body must show: each group needs one confident keypoint.
FULL_BODY_GROUPS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3, 4),  # head: nose, eyes or ears
    (5,), (6,),  # shoulders
    (11,), (12,),  # hips
    (13,), (14,),  # knees
    (15,), (16,),  # ankles
)


@dataclass(frozen=True)
class Filters:
    min_pose_score: float = 0.30
    keypoint_score: float = 0.20
    min_keypoints: int = 11
    full_body: bool = True
    min_person_height: float = 0.25
    min_person_px: float = 96.0
    dedupe_distance: float = 0.05

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def person_height(pose: Pose, keypoint_score: float) -> float:
    _, y0, _, y1 = pose.bbox(keypoint_score)
    return y1 - y0


def person_area(pose: Pose, keypoint_score: float) -> float:
    x0, y0, x1, y1 = pose.bbox(keypoint_score)
    return (x1 - x0) * (y1 - y0)


def dominant(poses: Iterable[Pose], keypoint_score: float) -> Pose | None:
    """The largest person (box of confident keypoints), ties broken by the pose score."""
    best = None
    best_key = (-1.0, -1.0)
    for p in poses:
        key = (round(person_area(p, keypoint_score), 3), p.score)
        if key > best_key:
            best, best_key = p, key
    return best


def select(poses: list[Pose], every_person: bool, keypoint_score: float) -> list[Pose]:
    """The candidates of a frame: every person, or the dominant one."""
    if every_person:
        return list(poses)
    d = dominant(poses, keypoint_score)
    return [] if d is None else [d]


def reject_reason(pose: Pose, frame_height: int, f: Filters) -> str | None:
    """The first filter the pose fails (a REASONS value), or None if it passes all."""
    if pose.score < f.min_pose_score:
        return LOW_SCORE
    conf = pose.confident(f.keypoint_score)
    if int(conf.sum()) < f.min_keypoints:
        return FEW_KEYPOINTS
    if f.full_body and not all(conf[list(g)].any() for g in FULL_BODY_GROUPS):
        return NOT_FULL_BODY
    h = person_height(pose, f.keypoint_score)
    if h < f.min_person_px or h < f.min_person_height * frame_height:
        return TOO_SMALL
    return None


class Deduper:
    """Near-duplicate removal within one source: keeps a pose unless it is within
    `threshold` (cosine distance between normalised pose vectors) of one already kept."""

    def __init__(self, threshold: float) -> None:
        self.threshold = float(threshold)
        self._kept: list[np.ndarray] = []

    def admit(self, vec: np.ndarray) -> bool:
        v = np.asarray(vec, dtype=np.float32).ravel()
        if self.threshold > 0 and self._kept:
            kept = np.stack(self._kept)
            # Move Mirror's cosine distance sqrt(2 (1 - cos)): Euclidean between unit vectors.
            d = np.linalg.norm(kept - v[None, :], axis=1)
            if float(d.min()) < self.threshold:
                return False
        self._kept.append(v)
        return True


def pose_vector(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """(34,) unit vector and (17,) confidences, from the matching package (one normalisation)."""
    from kiosk.match.normalize import pose_vector as _pv

    vec, conf = _pv(pose)
    return np.asarray(vec, dtype=np.float32), np.asarray(conf, dtype=np.float32)


def normalisation_version() -> str:
    """Identifies the pose normalisation the vectors were made with (stored in the manifest)."""
    from kiosk.match import normalize

    v = getattr(normalize, "NORMALIZATION_VERSION", None) or getattr(
        normalize, "NORMALISATION_VERSION", None
    )
    return str(v) if v is not None else f"movemirror-bbox-l2/min_score={normalize.DEFAULT_MIN_SCORE}"
