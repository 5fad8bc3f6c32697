"""The reference set of visitor poses: what people in front of the kiosk commonly do.

Derived, never committed: when the report is made (or a test runs), from the asset mirror
(KIOSK_ASSET_MIRROR, e.g. ../shared) when it holds the pinned files below:
  - data/recordings/pose_squats.full.json: a real visitor-like recording (BlazePose, 33 points a
    frame; the COCO-17 subset is taken);
  - data/coco-mini/person_keypoints_val2017.json: COCO's ground-truth people with at least
    MIN_LABELLED labelled keypoints;
each pose also mirrored (the kiosk shows the visitor mirrored). Without the mirror (or with
source SYNTH) the set is synthesized by the project's pose synthesizer (kiosk.match.synth),
seeded, so the report is the same on every machine.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.match.normalize import flip_vector, normalize_xy

log = logging.getLogger(__name__)

#: Files of the mirror the set is derived from: relative path -> pinned sha256.
PINNED = {
    "data/recordings/pose_squats.full.json":
        "d951f67aa0bcc69cec683161ed407238a9fc5837d6d7d037a1d4f762a05a39b2",
    "data/coco-mini/person_keypoints_val2017.json":
        "318ac76dc0da3af71c02ea60582b9663eaa74b2a28dee56ea16735c9424816d0",
}
#: BlazePose indices of the COCO-17 keypoints (the shared README).
BLAZE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: A COCO person counts as a visitor pose with at least this many labelled keypoints.
MIN_LABELLED = 11
SYNTH_COUNT = 1500
SYNTH_SEED = 14


class ReferenceSource(enum.Enum):
    AUTO = "auto"  # the mirror when it holds the pinned files, else synthesized
    MIRROR = "mirror"
    SYNTH = "synth"


class ReferenceError(Exception):
    """The reference poses cannot be derived (a missing or changed mirror file)."""


@dataclass(frozen=True)
class ReferenceSet:
    vectors: np.ndarray  # (N, 34) float32 normalised pose vectors
    confidences: np.ndarray  # (N, 17) float32
    origin: str  # what it was derived from, for the report


def _read_pinned(mirror: Path, rel: str) -> bytes:
    path = mirror / rel
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReferenceError(f"{path}: cannot read ({e.strerror or e}); set KIOSK_ASSET_MIRROR"
                             " to a mirror holding it, or use --reference synth") from None
    got = hashlib.sha256(data).hexdigest()
    if got != PINNED[rel]:
        raise ReferenceError(f"{path}: sha256 {got} is not the pinned {PINNED[rel]}")
    return data


def squats_poses(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 2) xy and (N, 17) scores of the recording's frames (all keypoints confident)."""
    frames = np.asarray(json.loads(data), dtype=np.float64)  # (N, 33, 3) x, y, z pixels
    xy = frames[:, BLAZE_TO_COCO, :2]
    return xy, np.ones(xy.shape[:2])


def coco_poses(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 2) xy and (N, 17) scores (1 labelled, 0 not) of COCO's well-labelled people."""
    anns = [a for a in json.loads(data)["annotations"]
            if not a.get("iscrowd") and a.get("num_keypoints", 0) >= MIN_LABELLED]
    if not anns:
        return np.zeros((0, 17, 2)), np.zeros((0, 17))
    kp = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, 17, 3)
    return kp[..., :2], (kp[..., 2] > 0).astype(np.float64)


def _with_mirrors(xy: np.ndarray, sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vec = normalize_xy(xy, sc) if len(xy) else np.zeros((0, 34), np.float32)
    flipped = np.stack([flip_vector(v) for v in vec]) if len(vec) else vec
    from kiosk.pose.types import FLIP_INDEX

    conf = sc.astype(np.float32)
    return np.concatenate([vec, flipped]), np.concatenate([conf, conf[:, list(FLIP_INDEX)]])


def from_mirror(mirror: Path) -> ReferenceSet:
    parts = [squats_poses(_read_pinned(mirror, "data/recordings/pose_squats.full.json")),
             coco_poses(_read_pinned(mirror, "data/coco-mini/person_keypoints_val2017.json"))]
    xy = np.concatenate([p[0] for p in parts])
    sc = np.concatenate([p[1] for p in parts])
    vec, conf = _with_mirrors(xy, sc)
    origin = (f"derived from the asset mirror {mirror}: {len(parts[0][0])} frames of"
              f" pose_squats.full.json and {len(parts[1][0])} COCO ground-truth people"
              f" (>= {MIN_LABELLED} labelled keypoints), each also mirrored")
    return ReferenceSet(vec, conf, origin)


def synthesized(n: int = SYNTH_COUNT, seed: int = SYNTH_SEED) -> ReferenceSet:
    from kiosk.match.synth import synth_vectors

    vec, conf = synth_vectors(n, seed=seed)
    return ReferenceSet(vec, conf, f"synthesized by kiosk.match.synth ({n} poses, seed {seed})")


def reference_set(source: ReferenceSource, mirror: Path | None) -> ReferenceSet:
    """The reference visitor poses from `source`; AUTO falls back to SYNTH without a mirror."""
    if source is ReferenceSource.SYNTH:
        return synthesized()
    if mirror is None:
        if source is ReferenceSource.MIRROR:
            raise ReferenceError("no asset mirror: set KIOSK_ASSET_MIRROR (e.g. ../shared) or pass"
                                 " --mirror DIR, or use --reference synth")
        return synthesized()
    try:
        return from_mirror(mirror)
    except ReferenceError as e:
        if source is ReferenceSource.MIRROR:
            raise
        log.warning("%s; using synthesized reference poses", e)
        return synthesized()
