"""Scale views: the visitor seen at several sizes in the model's input, their poses voted.

A pose model's mistakes on one image depend on how large the person is in its input: PoseNet
misplaces keypoints of a visitor who fills the frame (standing close, waist-up), and a black
margin round the frame (the person smaller) moves those mistakes elsewhere
(docs/match-quality.md, "Scale views"). The gallery builder votes an archive person's pose over
several crops (kiosk.pose.views); the kiosk does the same over time, at no extra model run:

- `ScaleCycle`: while someone in the picture is *close* (their seen keypoints span at least
  CLOSE of the frame's height), frames are estimated in turn with the black margin
  MARGINS[n % len(MARGINS)] on every side (a share of the frame's height and of its width:
  `PoseModel.estimate(rgb, margin)`, fitted by the model's own preprocessing without a canvas,
  kiosk.pose.preprocess; `padded` shows what it means), poses in the frame's pixels; otherwise
  with none (a far visitor made smaller still is
  lost: docs/match-quality.md, "Scale views");
- with cycled flips (`pose.flip_views` cycle, the default on the CPU: kiosk.pose.flip), every
  other frame is estimated mirrored (its poses flipped back), close or far, so each window of
  three frames holds both views;
- `ScaleVotes`: the tracked visitor's pose matched is the per-keypoint vote (`vote`) of their
  last len(MARGINS) estimated poses, xy and scores alike; a frame without them starts it afresh
  (the skeleton drawn stays each frame's own pose: kiosk.app.mirror.perceive).

A held pose is voted over all margins; each keypoint follows a move once two of the three
frames have seen it (one frame later than without votes). `kiosk eval match` measures a still
image the same way: `voted_estimate` runs every margin on it when the person is close.

Shapes: frames (H, W, 3) uint8 RGB; poses are kiosk.pose.types.Pose, xy (x, y) in pixels of the
frame given.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from kiosk.core.enums import ModelFamily, ScaleViews
from kiosk.pose.flip import mirrored_estimate
from kiosk.pose.model import PoseModel
from kiosk.pose.preprocess import check_margin
from kiosk.pose.types import Pose
from kiosk.pose.views import SEEN, nearest_pose

log = logging.getLogger(__name__)

#: The black margins cycled through (share of the frame's size on each side): the person at
#: 1, 0.8 and 0.67 times their size in the frame.
MARGINS: tuple[float, ...] = (0.0, 0.125, 0.25)
#: Someone is close when their seen keypoints span at least this share of the frame's height
#: (PoseNet lost 4 of 7 people under a quarter of the photo's height at the 25 % margin, none
#: of 28 taller ones: docs/match-quality.md).
CLOSE = 1 / 3
#: Identifies the views and the vote (the benchmark's cached query poses are keyed by it).
SCALES_VERSION = 5


def uses_scale_views(setting: str, family: str) -> bool:
    """Whether a model of this family (ModelFamily's value) estimates with scale views under the
    setting (ScaleViews: auto = the PoseNet family only, see ScaleViews)."""
    choice = ScaleViews.parse(setting, "pose.scale_views")
    if choice is ScaleViews.AUTO:
        return family == ModelFamily.POSENET
    return choice is ScaleViews.ALWAYS


def padded(rgb: np.ndarray, margin: float) -> tuple[np.ndarray, tuple[int, int]]:
    """(canvas, (dx, dy)): rgb (H, W, 3) centred on a black canvas with round(margin * W) and
    round(margin * H) pixels on each side; a pose found on the canvas is translated by
    (-dx, -dy) back to rgb's pixels. margin 0: rgb itself. (What a margin means; the real
    models fit it without the canvas, kiosk.pose.preprocess; the fake model uses this.)"""
    check_margin(margin)
    h, w = rgb.shape[:2]
    dx, dy = round(margin * w), round(margin * h)
    if dx == 0 and dy == 0:
        return rgb, (0, 0)
    canvas = np.zeros((h + 2 * dy, w + 2 * dx, *rgb.shape[2:]), dtype=rgb.dtype)
    canvas[dy:dy + h, dx:dx + w] = rgb
    return canvas, (dx, dy)


def is_close(pose: Pose, frame_height: int) -> bool:
    """Does the pose's seen-keypoint box span at least CLOSE of the frame's height?"""
    _, y0, _, y1 = pose.bbox(SEEN)
    return (y1 - y0) >= CLOSE * frame_height


def vote(poses: Sequence[Pose]) -> Pose:
    """The poses voted keypoint by keypoint: the median of their xy and scores (and of their
    pose scores); of two poses, each keypoint from the one that scores it higher (a mean would
    put a keypoint one view misplaces half-way off)."""
    if not poses:
        raise ValueError("vote needs at least one pose")
    if len(poses) == 1:
        return poses[0]
    if len(poses) == 2:
        a, b = poses
        first = (a.scores >= b.scores)[:, None]
        return Pose(np.where(first, a.xy, b.xy), np.maximum(a.scores, b.scores),
                    max(a.score, b.score))
    xy = np.median(np.stack([p.xy for p in poses]), axis=0)
    scores = np.median(np.stack([p.scores for p in poses]), axis=0)
    return Pose(xy.astype(np.float32), scores.astype(np.float32),
                float(np.median([p.score for p in poses])))


def voted_estimate(model: PoseModel, rgb: np.ndarray,
                   pick: Callable[[list[Pose]], Pose | None],
                   margins: Sequence[float] = MARGINS, flips: bool = False) -> Pose | None:
    """A still image as the kiosk sees a visitor holding still: the person pick(poses) chooses
    on the image (poses in rgb's pixels; None: nobody); when they are close (is_close), their
    poses at every margin voted. At the other margins the person is the pose nearest the first
    (kiosk.pose.views.nearest_pose), as the kiosk's tracker follows a visitor from frame to
    frame; a margin that does not find them is left out. flips (cycled flips): the image at
    every other margin is estimated mirrored (the window seen, mirrored, seen); a far person's
    window (seen, mirrored, seen, all without margin) votes the seen pose."""
    first = pick(model.estimate(rgb, margins[0])) if margins else None
    if first is None or not is_close(first, rgb.shape[0]):
        return first
    found = [first, *(nearest_pose(_estimate(model, rgb, m, flips and i % 2 == 1), first)[0]
                      for i, m in enumerate(margins[1:], start=1))]
    return vote([p for p in found if p is not None])


def _estimate(model: PoseModel, rgb: np.ndarray, margin: float, mirrored: bool) -> list[Pose]:
    return mirrored_estimate(model, rgb, margin) if mirrored else model.estimate(rgb, margin)


class ScaleCycle:
    """The margin of each estimated frame, in turn while someone is close, and with flips every
    other frame mirrored (module doc)."""

    def __init__(self, margins: Sequence[float] = MARGINS, flips: bool = False) -> None:
        if not margins:
            raise ValueError("ScaleCycle needs at least one margin")
        self.margins = tuple(float(m) for m in margins)
        self.flips = flips
        self._n = 0
        self._frames = 0
        self._close = False  # someone was close on the last frame

    def next_view(self) -> tuple[float, bool]:
        """(margin, mirrored) of the frame about to be estimated: the margin 0 while nobody is
        close; mirrored every other frame with flips."""
        self._frames += 1
        mirrored = self.flips and self._frames % 2 == 0
        if not self._close:
            return 0.0, mirrored
        self._n += 1
        return self.margins[self._n % len(self.margins)], mirrored

    def observe(self, poses: Sequence[Pose], frame_height: int) -> None:
        """The frame's poses (in its pixels, frame_height tall): is anyone close?"""
        self._close = any(is_close(p, frame_height) for p in poses)

    def estimate(self, model: PoseModel, rgb: np.ndarray) -> list[Pose]:
        """The model's poses on rgb at this frame's view, in rgb's pixels."""
        poses = _estimate(model, rgb, *self.next_view())
        self.observe(poses, rgb.shape[0])
        return poses


class ScaleVotes:
    """The tracked visitor's last `window` poses voted (module doc); a new track starts afresh."""

    def __init__(self, window: int = len(MARGINS)) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window!r}")
        self._recent: deque[Pose] = deque(maxlen=window)
        self._track: int | None = None

    def reset(self) -> None:
        self._recent.clear()
        self._track = None

    def __call__(self, pose: Pose, track_id: int) -> Pose:
        if track_id != self._track:
            self.reset()
            self._track = track_id
        self._recent.append(pose)
        return vote(list(self._recent))
