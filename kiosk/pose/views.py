"""A person seen in several views: the consensus pose the gallery builder stores.

A pose model's keypoints on one image are one noisy measurement, and the noise depends on the
framing: the same person seen in the whole photo, in a close crop or mirrored can get a knee or
a wrist 30-90 % of the body away (docs/match-quality.md). A kiosk camera sees its visitor large
in the frame, like a crop. `ViewsModel` wraps a PoseModel (the gallery builder uses it for
photos, kiosk.gallery.worker.frame_record): for every person it detects in a
photo (worth refining: `REFINE_MIN_SCORE`, `REFINE_MIN_PX`), it runs the model again on square
crops centred on the person at each of `PADS` (and on each crop mirrored), takes the pose of the
same person in each view (`same_person`), and returns the per-keypoint median of all views
(the photo's included; the scores stay the photo's): view-dependent mistakes are voted out,
the person is measured as a camera close to them would see them.

Shapes: poses are 17 COCO keypoints, xy (x, y) in source pixels (kiosk.pose.types.Pose).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from kiosk.core.enums import Views
from kiosk.pose.model import PoseModel, WrappedModel
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

#: Paddings of the square crops: the crop's side is the person's box's larger side x (1 + 2 pad).
PADS: tuple[float, ...] = (0.1, 0.25, 0.4)
#: Keypoint score from which a keypoint is "seen" (the box, the same-person test).
SEEN = 0.2
#: Only persons this confident and this tall (source pixels) get the extra views; others keep
#: the photo's pose (they are filtered out of a gallery by default anyway).
REFINE_MIN_SCORE = 0.25
REFINE_MIN_PX = 64.0
#: A view's pose is the same person when the median distance of the keypoints both see is at
#: most this share of the person's box (its larger side).
SAME_PERSON = 0.25
#: Version of the views' geometry and consensus rule (the builder's pose cache is keyed by it).
VIEWS_VERSION = 3


def crop(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """rgb (H, W, 3) cut to box (x0, y0, x1, y1), black where the box leaves the frame."""
    x0, y0, x1, y1 = box
    out = np.zeros((y1 - y0, x1 - x0, 3), dtype=rgb.dtype)
    h, w = rgb.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return out


def square_box(pose: Pose, pad: float) -> tuple[int, int, int, int]:
    """The square (x0, y0, x1, y1) centred on the box of the pose's seen keypoints, its side
    the box's larger side x (1 + 2 pad); it may leave the image."""
    x0, y0, x1, y1 = pose.bbox(SEEN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max(x1 - x0, y1 - y0, 1.0) * (1 + 2 * pad) / 2
    return (int(np.floor(cx - half)), int(np.floor(cy - half)),
            int(np.ceil(cx + half)), int(np.ceil(cy + half)))


def nearest_pose(poses: Sequence[Pose], ref: Pose, min_score: float = SEEN,
                 ref_mask: np.ndarray | None = None) -> tuple[Pose | None, float]:
    """(the pose nearest ref, its median keypoint distance): over the keypoints both see
    (at least 3; ref's may be narrowed by ref_mask, (17,) bool); (None, inf) when no pose
    shares 3 seen keypoints with ref."""
    best, best_d = None, float("inf")
    ref_seen = ref.scores >= min_score
    if ref_mask is not None:
        ref_seen = ref_seen & ref_mask
    for p in poses:
        both = ref_seen & (p.scores >= min_score)
        if both.sum() < 3:
            continue
        d = float(np.median(np.linalg.norm(p.xy[both] - ref.xy[both], axis=1)))
        if d < best_d:
            best, best_d = p, d
    return best, best_d


def same_person(poses: Sequence[Pose], ref: Pose) -> Pose | None:
    """The pose of poses that is ref's person: the nearest, if within SAME_PERSON of its size."""
    x0, y0, x1, y1 = ref.bbox(SEEN)
    found, d = nearest_pose(poses, ref)
    return found if d <= SAME_PERSON * max(x1 - x0, y1 - y0, 1.0) else None


def consensus(views: Sequence[Pose], width: float, height: float) -> Pose:
    """The per-keypoint median of the views' xy, inside the width x height photo (a crop that
    leaves the photo lets the model put an unseen keypoint on its black border); scores and
    score of the first view (the photo's: its detection decides what is seen, so the gallery's
    filters keep the people they kept before views, and the views only vote on where each
    keypoint is)."""
    xy = np.clip(np.median(np.stack([v.xy for v in views]), axis=0), 0.0, [width, height])
    return Pose(xy.astype(np.float32), views[0].scores, views[0].score)


def worth_refining(pose: Pose) -> bool:
    """Is the person confident and tall enough for the extra views (REFINE_MIN_SCORE,
    REFINE_MIN_PX; below the gallery's default filters, which would drop them anyway)?"""
    _, y0, _, y1 = pose.bbox(SEEN)
    seen = int((pose.scores >= SEEN).sum())
    return pose.score >= REFINE_MIN_SCORE and (y1 - y0) >= REFINE_MIN_PX and seen >= 3


def crop_views(model: PoseModel, rgb: np.ndarray, pose: Pose,
               timings: dict[str, float] | None = None) -> list[Pose]:
    """The person's pose in every crop view (source pixels), where the model finds them;
    each run's last_timings are added into timings when given."""
    out = []
    for pad in PADS:
        box = square_box(pose, pad)
        img = crop(rgb, box)
        ref = pose.translated(-box[0], -box[1])
        for mirrored in (False, True):
            view = np.ascontiguousarray(img[:, ::-1]) if mirrored else img
            r = ref.flipped(img.shape[1]) if mirrored else ref
            found = same_person(model.estimate(view), r)
            if timings is not None:
                for k, ms in model.last_timings.items():
                    timings[k] = timings.get(k, 0.0) + ms
            if found is None:
                continue
            if mirrored:
                found = found.flipped(img.shape[1])
            out.append(found.translated(box[0], box[1]))
    return out


class ViewsModel(WrappedModel):
    """A PoseModel whose poses are consensus poses (module doc)."""

    def __init__(self, model: PoseModel) -> None:
        super().__init__(model)
        self.views = Views.CROPS

    def estimate(self, rgb: np.ndarray, margin: float = 0.0) -> list[Pose]:
        """(H, W, 3) uint8 RGB -> consensus poses sorted by score desc, xy in source pixels
        (margin: the photo's own run's, kiosk.pose.model). last_timings: the ms of every model
        run of this call, summed."""
        poses = self.model.estimate(rgb, margin)
        total = dict(self.model.last_timings)
        h, w = rgb.shape[:2]
        out = []
        for p in poses:
            if worth_refining(p):
                views = crop_views(self.model, rgb, p, total)
                p = consensus([p, *views], w, h)
            out.append(p)
        self.last_timings = total
        return sorted(out, key=lambda p: -p.score)


def with_views(model: PoseModel, views: Views) -> PoseModel:
    """The model seeing persons the way `views` says (PHOTO: the model itself)."""
    return ViewsModel(model) if views is Views.CROPS else model
