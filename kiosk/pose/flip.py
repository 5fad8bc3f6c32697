"""Flip views: every frame estimated as seen and mirrored, each person's two poses averaged.

A pose model's mistakes on an image are partly its own asymmetries: the same person seen in the
mirrored image gets some keypoints elsewhere. Averaging the two measurements (the mirrored
run's poses flipped back to the frame, left and right renamed) puts a keypoint nearer the truth:
on the COCO slice's people cut close as a kiosk camera sees them, PoseNet's keypoint error fell
4-5 % (`tests/pose/test_flip_real.py`), and the benchmark's waist-up visitors found their own
photo more often (docs/match-quality.md, "Flip views"). The gallery builder already votes every
archive person over mirrored crops (kiosk.pose.views); this is the kiosk side's counterpart.

It costs a second model run per frame, so `pose.flip_views` (FlipViews) turns it on by default
only where the model runs on the Edge TPU; on a Pi's CPU it would halve the pose rate. There the
default cycles instead: where scale views vote the visitor's last three poses
(kiosk.pose.scales), every other frame is estimated mirrored (`mirrored_estimate`), so each vote
mixes both views at no extra model run (as near the labelled keypoints as averaging every frame:
docs/match-quality.md, "Flip views").

Shapes: poses are 17 COCO keypoints, xy (x, y) in the frame's pixels (kiosk.pose.types.Pose).
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.core.enums import FlipViews, Variant
from kiosk.pose.model import PoseModel, WrappedModel
from kiosk.pose.types import Pose
from kiosk.pose.views import same_person

log = logging.getLogger(__name__)

#: Identifies the pairing and the average (the benchmark's cached poses are keyed by it; the
#: pairing also rests on kiosk.pose.views' SAME_PERSON and SEEN).
FLIP_VERSION = 1


def flip_mode(setting: str, delegate: str) -> FlipViews:
    """What the setting (pose.flip_views) means for a model running on `delegate` (its
    PoseModel.delegate): ALWAYS, CYCLE or NEVER (auto: ALWAYS on the Edge TPU, else CYCLE)."""
    choice = FlipViews.parse(setting, "pose.flip_views")
    if choice is FlipViews.AUTO:
        return FlipViews.ALWAYS if delegate == Variant.EDGETPU else FlipViews.CYCLE
    return choice


def uses_flip_views(setting: str, delegate: str) -> bool:
    """Whether every frame is estimated twice (flip_mode ALWAYS: FlipModel)."""
    return flip_mode(setting, delegate) is FlipViews.ALWAYS


def cycles_flips(setting: str, delegate: str) -> bool:
    """Whether every other frame is estimated mirrored where scale views vote (flip_mode CYCLE:
    kiosk.pose.scales.ScaleCycle)."""
    return flip_mode(setting, delegate) is FlipViews.CYCLE


def mirrored_estimate(model: PoseModel, rgb: np.ndarray, margin: float = 0.0) -> list[Pose]:
    """The model's poses on rgb (H, W, 3) mirrored left-right, flipped back to rgb's pixels
    (left and right renamed: Pose.flipped)."""
    width = rgb.shape[1]
    return [p.flipped(width) for p in model.estimate(np.ascontiguousarray(rgb[:, ::-1]), margin)]


def averaged(a: Pose, b: Pose) -> Pose:
    """The keypoint-by-keypoint average of two measurements of one person: xy weighted by each
    keypoint's scores (a keypoint one run barely sees moves little), scores and pose score the
    plain means (a keypoint only one run sees counts half as seen)."""
    wa = a.scores[:, None].astype(np.float64)
    wb = b.scores[:, None].astype(np.float64)
    total = wa + wb
    xy = np.where(total > 0, (a.xy * wa + b.xy * wb) / np.where(total > 0, total, 1.0),
                  (a.xy.astype(np.float64) + b.xy) / 2)
    return Pose(xy.astype(np.float32), ((a.scores + b.scores) / 2).astype(np.float32),
                (a.score + b.score) / 2)


def paired(poses: list[Pose], mirrored: list[Pose]) -> list[Pose]:
    """Each pose of `poses` averaged with its person's pose in `mirrored` (already flipped back;
    kiosk.pose.views.same_person, each used once, the most confident poses first). A pose whose
    person the mirrored run missed is kept as it is, its scores whole (the frame as seen decides
    who is there, as without flip views); a person only the mirrored run finds is left out.
    Sorted by score, descending."""
    left = list(mirrored)
    out = []
    for p in sorted(poses, key=lambda p: -p.score):
        twin = same_person(left, p)
        if twin is not None:
            left = [q for q in left if q is not twin]
            p = averaged(p, twin)
        out.append(p)
    return sorted(out, key=lambda p: -p.score)


class FlipModel(WrappedModel):
    """A PoseModel whose poses are flip-averaged (module doc)."""

    def estimate(self, rgb: np.ndarray, margin: float = 0.0) -> list[Pose]:
        """(H, W, 3) uint8 RGB -> poses sorted by score desc, xy in rgb's pixels (margin: as
        PoseModel.estimate, the same for both runs: it is symmetric). last_timings: the ms of
        both runs, summed."""
        poses = self.model.estimate(rgb, margin)
        total = dict(self.model.last_timings)
        mirrored = mirrored_estimate(self.model, rgb, margin)
        for k, ms in self.model.last_timings.items():
            total[k] = total.get(k, 0.0) + ms
        self.last_timings = total
        return paired(poses, mirrored)


def with_flip(model: PoseModel, setting: str) -> PoseModel:
    """The model as the kiosk runs it under pose.flip_views (the model itself when off)."""
    mode = flip_mode(setting, model.delegate)
    said = {FlipViews.ALWAYS: "on: two model runs per frame",
            FlipViews.CYCLE: "cycled: every other frame mirrored where scale views vote",
            FlipViews.NEVER: "off"}[mode]
    log.info("flip views %s (pose.flip_views %s, %s on %s)", said, setting, model.name, model.delegate)
    return FlipModel(model) if mode is FlipViews.ALWAYS else model
