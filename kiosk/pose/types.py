"""The shared pose type: COCO-17 keypoints in source-image pixels.

Everything downstream (matching, the gallery builder, the kiosk loop) speaks `Pose`.
Coordinates are (x, y) in the pixels of the image the pose was found in, x to the
right, y down, continuous (the centre of the top-left pixel is (0.5, 0.5)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiosk.core.keypoints import (  # noqa: F401  (re-exported: the pose package's vocabulary)
    FLIP_INDEX,
    KEYPOINT_INDEX,
    KEYPOINT_NAMES,
    NUM_KEYPOINTS,
    SKELETON,
)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float32, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Pose:
    """One person's 17 COCO keypoints.

    xy:     (17, 2) float32, (x, y) in source-image pixels, finite.
    scores: (17,) float32 keypoint confidences in [0, 1].
    score:  the pose's confidence in [0, 1]; defaults to the mean keypoint score.

    Instances are immutable (arrays are read-only copies); transforms return new poses.
    """

    xy: np.ndarray
    scores: np.ndarray
    score: float = field(default=float("nan"))

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy)
        scores = np.asarray(self.scores)
        if xy.shape != (NUM_KEYPOINTS, 2):
            raise ValueError(f"Pose.xy must have shape (17, 2), got {xy.shape}")
        if scores.shape != (NUM_KEYPOINTS,):
            raise ValueError(f"Pose.scores must have shape (17,), got {scores.shape}")
        if not np.all(np.isfinite(xy)):
            raise ValueError("Pose.xy contains NaN or infinite coordinates")
        if not np.all(np.isfinite(scores)) or scores.min() < -1e-6 or scores.max() > 1 + 1e-6:
            raise ValueError("Pose.scores must be finite and within [0, 1]")
        score = float(self.score)
        if np.isnan(score):
            score = float(np.mean(scores))
        if not (0.0 - 1e-6 <= score <= 1.0 + 1e-6):
            raise ValueError(f"Pose.score must be within [0, 1], got {score}")
        object.__setattr__(self, "xy", _frozen(xy))
        object.__setattr__(self, "scores", _frozen(np.clip(scores, 0.0, 1.0)))
        object.__setattr__(self, "score", float(min(max(score, 0.0), 1.0)))

    # ---- derived -------------------------------------------------------------------
    def bbox(self, min_score: float = 0.0) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the keypoints whose score >= min_score (all if none are)."""
        mask = self.scores >= min_score
        pts = self.xy[mask] if mask.any() else self.xy
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    def confident(self, min_score: float) -> np.ndarray:
        """(17,) bool: keypoints whose score >= min_score."""
        return self.scores >= min_score

    # ---- transforms (each returns a new Pose) ----------------------------------------
    def flipped(self, width: float) -> Pose:
        """The pose seen in a horizontally mirrored image of the given width.

        x becomes width - x, and left/right keypoints swap names.
        """
        xy = self.xy.copy()
        xy[:, 0] = width - xy[:, 0]
        idx = np.asarray(FLIP_INDEX)
        return Pose(xy[idx], self.scores[idx], self.score)

    def scaled(self, sx: float, sy: float | None = None) -> Pose:
        """Coordinates multiplied by (sx, sy) (sy defaults to sx)."""
        s = np.array([sx, sx if sy is None else sy], dtype=np.float32)
        return Pose(self.xy * s, self.scores, self.score)

    def translated(self, dx: float, dy: float) -> Pose:
        """Coordinates shifted by (dx, dy)."""
        return Pose(self.xy + np.array([dx, dy], dtype=np.float32), self.scores, self.score)

    def rotated90(self, width: float, height: float, turns: int) -> Pose:
        """The pose in the image rotated by turns x 90 degrees counter-clockwise.

        width, height: size of the image the pose is currently in.
        """
        xy = self.xy.copy()
        w, h = float(width), float(height)
        for _ in range(turns % 4):
            xy = np.stack([xy[:, 1], w - xy[:, 0]], axis=1)
            w, h = h, w
        return Pose(xy, self.scores, self.score)

    # ---- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON shape used by `kiosk pose --json`."""
        return {
            "score": round(self.score, 6),
            "keypoints": [
                {
                    "name": name,
                    "x": round(float(self.xy[i, 0]), 3),
                    "y": round(float(self.xy[i, 1]), 3),
                    "score": round(float(self.scores[i]), 6),
                }
                for i, name in enumerate(KEYPOINT_NAMES)
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pose:
        kps = d["keypoints"]
        if len(kps) != NUM_KEYPOINTS:
            raise ValueError(f"expected 17 keypoints, got {len(kps)}")
        by_name = {k["name"]: k for k in kps}
        xy = [[by_name[n]["x"], by_name[n]["y"]] for n in KEYPOINT_NAMES]
        sc = [by_name[n]["score"] for n in KEYPOINT_NAMES]
        return cls(np.asarray(xy), np.asarray(sc), d.get("score", float("nan")))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pose):
            return NotImplemented
        return (
            np.array_equal(self.xy, other.xy)
            and np.array_equal(self.scores, other.scores)
            and self.score == other.score
        )

    def __repr__(self) -> str:
        x0, y0, x1, y1 = self.bbox()
        return f"Pose(score={self.score:.3f}, bbox=({x0:.1f}, {y0:.1f}, {x1:.1f}, {y1:.1f}))"
