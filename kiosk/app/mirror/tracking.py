"""Who is the visitor: the main person, kept the same across frames while present.

A person counts when the pose score reaches pose.min_pose_score and at least
pose.min_confident_keypoints keypoints reach pose.keypoint_threshold. A new visitor is the
largest and most central such person. Once chosen, the tracker follows that person from
frame to frame (best overlap of the confident-keypoint boxes, else nearest centre within half
a body height) even if someone larger walks in; after `max_missing` frames without them it
lets go and picks a new main person (with a new track id, so smoothing restarts).

With a `person_filter` (kiosk.app.mirror.plausibility.PersonFilter) only poses plausible as a
person are candidates, and a new track is reported once it has been plausible for the
filter's number of frames in a row (chairs and teddy bears never become visitors).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kiosk.app.mirror.plausibility import PersonFilter
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Track:
    id: int  # changes when the main person changes
    pose: Pose
    box: Box


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def prominence(box: Box, width: int, height: int) -> float:
    """Area times centrality: 1 at the frame centre, falling to 0.5 at the frame's corner."""
    x0, y0, x1, y1 = box
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0) / float(width * height)
    cx, cy = (x0 + x1) / 2 / width - 0.5, (y0 + y1) / 2 / height - 0.5
    off = min(np.hypot(cx, cy) / np.hypot(0.5, 0.5), 1.0)
    return area * (1.0 - 0.5 * off)


class MainPersonTracker:
    def __init__(self, *, min_pose_score: float, keypoint_threshold: float, min_confident_keypoints: int,
                 min_iou: float = 0.2, max_missing: int = 5,
                 person_filter: PersonFilter | None = None) -> None:
        self.configure(min_pose_score, keypoint_threshold, min_confident_keypoints)
        self.min_iou = min_iou
        self.max_missing = max_missing
        self.person_filter = person_filter
        self.track: Track | None = None
        self.missing = 0
        self._next_id = 1

    def configure(self, min_pose_score: float, keypoint_threshold: float,
                  min_confident_keypoints: int) -> None:
        self.min_pose_score = min_pose_score
        self.keypoint_threshold = keypoint_threshold
        self.min_confident_keypoints = min_confident_keypoints

    def candidates(self, poses: Sequence[Pose]) -> list[tuple[Pose, Box]]:
        out = []
        for p in poses:
            if p.score < self.min_pose_score:
                continue
            if int(np.count_nonzero(p.scores >= self.keypoint_threshold)) < self.min_confident_keypoints:
                continue
            out.append((p, p.bbox(self.keypoint_threshold)))
        return out

    def update(self, poses: Sequence[Pose], width: int, height: int) -> Track | None:
        """The main person in this frame (None: nobody, the visitor missing this frame, or a
        new person not yet confirmed by the person filter)."""
        track = self._update(poses, width, height)
        if track is None or self.person_filter is None:
            return track
        return track if self.person_filter.accept(track.id, track.pose, width, height) else None

    def _update(self, poses: Sequence[Pose], width: int, height: int) -> Track | None:
        cands = self.candidates(poses)
        prev = self.track
        if prev is not None:
            match = self._follow(prev.box, cands)
            if match is not None:
                self.missing = 0
                self.track = Track(prev.id, *match)
                return self.track
            self.missing += 1
            if self.missing <= self.max_missing:
                return None
            log.debug("track %d lost after %d frames", prev.id, self.missing)
            self.track = None
        if self.person_filter is not None:  # only a body plausible as a person starts a track
            cands = [c for c in cands if self.person_filter.plausible(c[0], width, height)]
        if not cands:
            return None
        pose, box = max(cands, key=lambda c: prominence(c[1], width, height))
        self.track = Track(self._next_id, pose, box)
        self._next_id += 1
        self.missing = 0
        return self.track

    def _follow(self, prev: Box, cands: list[tuple[Pose, Box]]) -> tuple[Pose, Box] | None:
        best, best_iou = None, self.min_iou
        for c in cands:
            o = iou(prev, c[1])
            if o >= best_iou:
                best, best_iou = c, o
        if best is not None:
            return best
        # a fast move can leave no overlap: accept the nearest centre within half a body height
        pcx, pcy = (prev[0] + prev[2]) / 2, (prev[1] + prev[3]) / 2
        reach = 0.5 * max(prev[3] - prev[1], prev[2] - prev[0], 1.0)
        nearest, nearest_d = None, reach
        for c in cands:
            b = c[1]
            d = float(np.hypot((b[0] + b[2]) / 2 - pcx, (b[1] + b[3]) / 2 - pcy))
            if d <= nearest_d:
                nearest, nearest_d = c, d
        return nearest

    def reset(self) -> None:
        self.track = None
        self.missing = 0
        if self.person_filter is not None:
            self.person_filter.reset()


#: Keypoints closer than this fraction of the frame size to its edge count as cut off.
EDGE_FRACTION = 0.01
_HEAD = [0, 1, 2, 3, 4]
_SHOULDERS, _HIPS, _KNEES, _ANKLES = [5, 6], [11, 12], [13, 14], [15, 16]
#: The top of the head is about this many torso lengths (shoulders to hips) above the shoulders.
HEAD_ABOVE_SHOULDERS = 0.6
#: Shoulders to ankles is about this many torso lengths (used when the knees are not seen either).
LEGS_BELOW_HIPS = 1.7


def _mid(pose: Pose, idx: list[int], threshold: float) -> np.ndarray | None:
    """Mean (x, y) of the confident keypoints among idx (None if none is)."""
    ok = pose.scores[idx] >= threshold
    return pose.xy[idx][ok].mean(axis=0) if ok.any() else None


def body_cut_off(pose: Pose, width: int, height: int, threshold: float) -> bool:
    """True when the camera does not see the whole body (the "step back" hint): a confident
    keypoint touches the frame's edge, or an extremity the model did not see would lie beyond it
    (the head above the top, estimated from the shoulders; the ankles below the bottom, estimated
    from hips and knees). Ankles merely low-confidence where the frame has room for them do not
    count: the feet are there, the model is unsure. Coordinates (x, y) in frame pixels."""
    ok = pose.scores >= threshold
    if not ok.any():
        return False
    mx, my = width * EDGE_FRACTION, height * EDGE_FRACTION
    x0, y0 = pose.xy[ok].min(axis=0)
    x1, y1 = pose.xy[ok].max(axis=0)
    if x0 < mx or y0 < my or x1 > width - mx or y1 > height - my:
        return True
    shoulders, hips = _mid(pose, _SHOULDERS, threshold), _mid(pose, _HIPS, threshold)
    torso = float(abs(hips[1] - shoulders[1])) if shoulders is not None and hips is not None else None
    if not ok[_HEAD].any():
        if shoulders is None or torso is None:
            return True  # neither head nor a torso: the upper body is out of the picture
        if shoulders[1] - HEAD_ABOVE_SHOULDERS * torso < my:
            return True
    if not ok[_ANKLES].any():
        knees = _mid(pose, _KNEES, threshold)
        if knees is not None and hips is not None:
            ankles_y = knees[1] + abs(knees[1] - hips[1])  # the shin is about as long as the thigh
        elif hips is not None and torso is not None and shoulders is not None:
            ankles_y = shoulders[1] + LEGS_BELOW_HIPS * torso + torso
        else:
            return True  # no hips: the lower body is out of the picture
        if ankles_y > height - my:
            return True
    return False
