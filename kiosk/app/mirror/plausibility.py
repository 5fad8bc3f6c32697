"""Only people are visitors: a detection must look like a person, for a few frames.

Pose models answer for chairs, parking meters and teddy bears too (MoveNet always returns a
pose). `person_problem` checks one pose's geometry against a human body, scale-free:

- enough of a body: both shoulders, and a head keypoint or a hip, are seen;
- size: the seen keypoints span at least `min_height` of the frame height (a kiosk visitor
  stands in front of the camera);
- proportions: every seen bone (upper arm, forearm, thigh, shin, shoulder-to-hip) measures
  between `min_bone` and `max_bone` times the body scale (the larger of shoulder width and
  torso length), and the body is not collapsed onto a point or a line;
- left/right coherence: the left and right shoulders (and hips) are distinct points.

`PersonFilter` adds persistence: only a plausible pose starts a track, and a track is reacted
to once its pose was plausible for `frames` frames in a row; after that it stays confirmed while
the tracker follows it (MainPersonTracker calls it for the tracked person each frame).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

_BONES = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (5, 11), (6, 12))
_HEAD = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Plausibility:
    threshold: float = 0.3  # a keypoint is seen at or above this score
    min_height: float = 0.15  # of the frame height
    min_bone: float = 0.08  # x body scale
    max_bone: float = 2.2
    min_scale_px: float = 8.0


def person_problem(pose: Pose, width: int, height: int, p: Plausibility = Plausibility()
                   ) -> str | None:
    """Why the pose is not plausibly a person (a short reason), or None if it is."""
    seen = pose.scores >= p.threshold
    xy = pose.xy.astype(np.float64)
    if not (seen[5] and seen[6]):
        return "no shoulders"
    if not (seen[list(_HEAD)].any() or seen[11] or seen[12]):
        return "no head and no hips"
    pts = xy[seen]
    if (pts[:, 1].max() - pts[:, 1].min()) < p.min_height * height and \
            (pts[:, 0].max() - pts[:, 0].min()) < p.min_height * height:
        return "too small"
    shoulder_w = float(np.linalg.norm(xy[5] - xy[6]))
    torso = [float(np.linalg.norm((xy[5] + xy[6]) / 2 - xy[h])) for h in (11, 12) if seen[h]]
    scale = max([shoulder_w, *torso])
    if scale < p.min_scale_px:
        return "collapsed body"
    for a, b in _BONES:
        if seen[a] and seen[b]:
            r = float(np.linalg.norm(xy[a] - xy[b])) / scale
            if not p.min_bone <= r <= p.max_bone:
                return "implausible proportions"
    if seen[11] and seen[12] and np.linalg.norm(xy[11] - xy[12]) < 0.05 * scale:
        return "hips on one point"
    return None


class PersonFilter:
    """Geometry now, persistence over frames: `accept(track_id, pose, w, h)` is True once
    the track's pose has been plausible for `frames` frames in a row."""

    def __init__(self, frames: int = 3, rules: Plausibility = Plausibility()) -> None:
        self.frames = max(int(frames), 1)
        self.rules = rules
        self._track = -1
        self._count = 0

    def plausible(self, pose: Pose, width: int, height: int) -> bool:
        return person_problem(pose, width, height, self.rules) is None

    def accept(self, track_id: int, pose: Pose, width: int, height: int) -> bool:
        """True once the track was plausible `frames` frames in a row; a confirmed track stays
        confirmed (a squat or a turn may look odd for a frame: the visitor does not vanish)."""
        if track_id != self._track:
            self._track, self._count = track_id, 0
        if self._count >= self.frames:
            return True
        self._count = self._count + 1 if self.plausible(pose, width, height) else 0
        return self._count >= self.frames

    def reset(self) -> None:
        self._track, self._count = -1, 0
