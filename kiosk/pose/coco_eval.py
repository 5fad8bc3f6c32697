"""The COCO person-keypoint metric (OKS AP, as pycocotools computes it) and PCK@0.2, in numpy.

No pycocotools dependency: this re-implements `COCOeval(iouType="keypoints")` for one category
(person) with maxDets 20 and the area range "all" (medium/large are available too):

* OKS between a detection d and a ground-truth person g:
  OKS = mean over g's labelled keypoints (v > 0) of exp(-|d_i - g_i|^2 / (2 s^2 (2 sigma_i)^2)),
  with s^2 = g's segmentation area (+ eps) and COCO's per-keypoint sigmas. For a ground truth
  with no labelled keypoint (crowd regions, num_keypoints == 0) the distance is measured to a box
  3x g's bbox around it, as pycocotools does.
* Per image and OKS threshold t, detections (top 20 by score) are matched greedily by score to the
  best still-free non-ignored ground truth with OKS >= t; if there is none, to an ignored one
  (crowd or num_keypoints == 0; crowds can absorb any number of detections). A detection matched
  to an ignored ground truth counts neither as a TP nor as a FP.
* Precision/recall over all images (detections sorted by score), precision made monotone and
  sampled at 101 recall points (0, 0.01, ..., 1), absent recall = precision 0.
  AP = mean over the 10 thresholds .50:.05:.95; AP50 and AP75 at one threshold; AR = mean recall.

PCK@0.2 (our definition; pycocotools has none): every non-ignored ground-truth person is matched to
at most one detection (the 20 best by score), pairs taken greedily by decreasing OKS. A labelled
keypoint (v > 0) is correct when the matched detection's keypoint is within
0.2 x max(bbox width, bbox height) of it, the person's size being the larger side of the COCO
person box (as MMPose's bbox-normalised PCK). Keypoints of unmatched people count as wrong.
PCK = correct / labelled keypoints, over all people (and per keypoint).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.pose.types import NUM_KEYPOINTS, Pose

log = logging.getLogger(__name__)

#: COCO's per-keypoint OKS sigmas (pycocotools `kpt_oks_sigmas`), COCO-17 order.
COCO_SIGMAS = (
    np.array(
        [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
         1.07, 1.07, 0.87, 0.87, 0.89, 0.89]
    )
    / 10.0
)
#: OKS thresholds .50:.05:.95 (as pycocotools builds them).
OKS_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
#: The 101 recall points at which precision is sampled.
RECALL_POINTS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = 20
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, 1e10),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e10),
}
PCK_ALPHA = 0.2
_EPS = np.spacing(1)


@dataclass(frozen=True)
class GroundTruth:
    """The annotated people of one image (G of them).

    keypoints: (G, 17, 3) float64 (x, y, v) as in COCO (v = 0 unlabelled, 1 occluded, 2 visible).
    bbox:      (G, 4) float64 (x, y, w, h).
    area:      (G,) float64 segmentation area (the OKS scale s^2).
    iscrowd:   (G,) bool.
    ignore:    (G,) bool: crowd, num_keypoints == 0 or an explicit "ignore" flag.
    """

    keypoints: np.ndarray
    bbox: np.ndarray
    area: np.ndarray
    iscrowd: np.ndarray
    ignore: np.ndarray

    def __len__(self) -> int:
        return int(self.area.shape[0])

    @classmethod
    def empty(cls) -> GroundTruth:
        return cls(np.zeros((0, NUM_KEYPOINTS, 3)), np.zeros((0, 4)), np.zeros(0),
                   np.zeros(0, bool), np.zeros(0, bool))

    @classmethod
    def from_annotations(cls, anns: Iterable[Mapping[str, Any]]) -> GroundTruth:
        """From COCO annotation dicts (keypoints, bbox, area, iscrowd, num_keypoints)."""
        anns = list(anns)
        if not anns:
            return cls.empty()
        kps = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, NUM_KEYPOINTS, 3)
        crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns])
        nk = np.array([a.get("num_keypoints", int(np.count_nonzero(k[:, 2] > 0)))
                       for a, k in zip(anns, kps, strict=True)])
        ignore = np.array([bool(a.get("ignore", 0)) for a in anns]) | crowd | (nk == 0)
        return cls(kps, np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
                   np.array([a["area"] for a in anns], dtype=np.float64), crowd, ignore)


@dataclass(frozen=True)
class Detections:
    """The detected people of one image (D of them). xy: (D, 17, 2) pixels; scores: (D,)."""

    xy: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def from_poses(cls, poses: Iterable[Pose]) -> Detections:
        poses = list(poses)
        if not poses:
            return cls(np.zeros((0, NUM_KEYPOINTS, 2)), np.zeros(0))
        return cls(np.stack([p.xy for p in poses]).astype(np.float64),
                   np.array([p.score for p in poses], dtype=np.float64))

    @classmethod
    def from_ground_truth(cls, gt: GroundTruth, score: float = 1.0) -> Detections:
        """Perfect detections: the non-ignored ground truth itself (for checks)."""
        keep = ~gt.ignore
        return cls(gt.keypoints[keep, :, :2].copy(), np.full(int(keep.sum()), float(score)))

    def top(self, k: int) -> Detections:
        """The k best by score (stable: equal scores keep their order, as pycocotools)."""
        order = np.argsort(-self.scores, kind="mergesort")[:k]
        return Detections(self.xy[order], self.scores[order])


@dataclass(frozen=True)
class CocoImage:
    id: int
    file_name: str
    width: int
    height: int


@dataclass(frozen=True)
class CocoKeypoints:
    """A COCO person-keypoint annotation file: images (sorted by id) and their ground truth."""

    images: tuple[CocoImage, ...]
    gt: Mapping[int, GroundTruth]

    def subset(self, n: int) -> CocoKeypoints:
        images = self.images[:n]
        return CocoKeypoints(images, {im.id: self.gt[im.id] for im in images})


def load_coco_keypoints(path: Path | str) -> CocoKeypoints:
    """Read person_keypoints_*.json. Every listed image is evaluated, annotated or not.

    Raises OSError (the file cannot be opened) or ValueError naming the file when it is not
    COCO person-keypoint annotations (not JSON, or not their layout)."""
    with open(path, encoding="utf-8") as f:
        try:
            return _parse_coco(json.load(f), path)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{path}: not COCO person keypoint annotations ({what}); give a"
                             " person_keypoints_*.json with 'images' and 'annotations'") from None


def _parse_coco(data: Any, path: Path | str) -> CocoKeypoints:
    """The CocoKeypoints of a parsed annotation file (raises on a wrong layout)."""
    if not isinstance(data, dict):
        raise TypeError(f"a JSON {type(data).__name__}, not an object")
    person_ids = {c["id"] for c in data.get("categories", []) if c.get("name") == "person"} or {1}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in data.get("annotations", []):
        if ann.get("category_id", 1) in person_ids:
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
    images = tuple(sorted(
        (CocoImage(int(im["id"]), im["file_name"], int(im["width"]), int(im["height"]))
         for im in data["images"]), key=lambda im: im.id))
    gt = {im.id: GroundTruth.from_annotations(by_image.get(im.id, [])) for im in images}
    log.debug("%s: %d images, %d annotations", path, len(images), sum(map(len, gt.values())))
    return CocoKeypoints(images, gt)


def oks(dt_xy: np.ndarray, gt: GroundTruth, sigmas: np.ndarray = COCO_SIGMAS) -> np.ndarray:
    """Object keypoint similarity, exactly as pycocotools' computeOks.

    dt_xy: (D, 17, 2) detected keypoints. Returns (D, G) float64.
    """
    dt_xy = np.asarray(dt_xy, dtype=np.float64).reshape(-1, NUM_KEYPOINTS, 2)
    D, G = dt_xy.shape[0], len(gt)
    if D == 0 or G == 0:
        return np.zeros((D, G))
    var = (2.0 * sigmas) ** 2  # (17,)
    g_xy, v = gt.keypoints[:, :, :2], gt.keypoints[:, :, 2]  # (G,17,2), (G,17)
    labelled = v > 0  # (G,17)
    has = labelled.any(axis=1)  # (G,)
    d = dt_xy[:, None] - g_xy[None]  # (D,G,17,2) for people with labels
    # For people without labelled keypoints: distance outside the box 3x the bbox around it.
    x, y, w, h = (gt.bbox[:, i][None, :, None] for i in range(4))  # (1,G,1)
    xd, yd = dt_xy[:, None, :, 0], dt_xy[:, None, :, 1]  # (D,1,17)
    ox = np.maximum(0.0, (x - w) - xd) + np.maximum(0.0, xd - (x + 2 * w))
    oy = np.maximum(0.0, (y - h) - yd) + np.maximum(0.0, yd - (y + 2 * h))
    dx = np.where(has[None, :, None], d[..., 0], ox)
    dy = np.where(has[None, :, None], d[..., 1], oy)
    e = (dx**2 + dy**2) / var / (gt.area[None, :, None] + _EPS) / 2.0  # (D,G,17)
    w_kp = np.where(has[:, None], labelled, True).astype(np.float64)  # (G,17)
    return (np.exp(-e) * w_kp[None]).sum(axis=2) / w_kp.sum(axis=1)[None]


@dataclass(frozen=True)
class ImageMatch:
    """The COCO matching of one image for every OKS threshold (T thresholds, D detections).

    scores: (D,) detection scores, best first (top maxDets).
    matched: (T, D) bool, detection matched to some ground truth.
    ignored: (T, D) bool, matched to an ignored ground truth (or, unmatched, outside the area range).
    num_gt: ground-truth people that count (not ignored, inside the area range).
    """

    scores: np.ndarray
    matched: np.ndarray
    ignored: np.ndarray
    num_gt: int


def match_image(gt: GroundTruth, det: Detections, *, area_range: tuple[float, float] = (0.0, 1e10),
                thresholds: np.ndarray = OKS_THRESHOLDS, max_dets: int = MAX_DETS,
                sigmas: np.ndarray = COCO_SIGMAS) -> ImageMatch:
    """pycocotools' evaluateImg for one image and area range."""
    det = det.top(max_dets)
    lo, hi = area_range
    g_ign = gt.ignore | (gt.area < lo) | (gt.area > hi)
    order = np.argsort(g_ign, kind="mergesort")  # regular people first, as pycocotools
    g_ign, crowd = g_ign[order], gt.iscrowd[order]
    ious = oks(det.xy, gt, sigmas)[:, order]
    T, D, G = len(thresholds), len(det), len(gt)
    matched = np.zeros((T, D), bool)
    ignored = np.zeros((T, D), bool)
    regular = ~g_ign
    for ti, t in enumerate(thresholds):
        taken = np.zeros(G, bool)
        thr = min(float(t), 1 - 1e-10)
        for di in range(D):
            row = ious[di]
            m = -1
            for pool in (regular, g_ign):  # a regular match beats any ignored one
                ok = pool & ~(taken & ~crowd) & (row >= thr)
                if ok.any():
                    cand = np.flatnonzero(ok)
                    best = row[cand].max()
                    m = int(cand[np.flatnonzero(row[cand] == best)[-1]])  # ties: the last
                    break
            if m < 0:
                continue
            matched[ti, di] = True
            ignored[ti, di] = g_ign[m]
            taken[m] = True
    if D:
        xy = det.xy
        d_area = np.ptp(xy[:, :, 0], axis=1) * np.ptp(xy[:, :, 1], axis=1)
        outside = (d_area < lo) | (d_area > hi)
        ignored |= ~matched & outside[None, :]
    return ImageMatch(det.scores, matched, ignored, int(regular.sum()))


def accumulate(matches: Iterable[ImageMatch], recall_points: np.ndarray = RECALL_POINTS
               ) -> tuple[np.ndarray, np.ndarray]:
    """pycocotools' accumulate for one category, area range and maxDets.

    Returns precision (T, R) and recall (T,), both -1 where there is no ground truth.
    """
    matches = [m for m in matches if m.num_gt or len(m.scores)]
    T = matches[0].matched.shape[0] if matches else len(OKS_THRESHOLDS)
    R = len(recall_points)
    npig = sum(m.num_gt for m in matches)
    if npig == 0:
        return -np.ones((T, R)), -np.ones(T)
    scores = np.concatenate([m.scores for m in matches])
    order = np.argsort(-scores, kind="mergesort")
    dtm = np.concatenate([m.matched for m in matches], axis=1)[:, order]
    dtig = np.concatenate([m.ignored for m in matches], axis=1)[:, order]
    tp = np.cumsum(dtm & ~dtig, axis=1).astype(np.float64)  # (T, N)
    fp = np.cumsum(~dtm & ~dtig, axis=1).astype(np.float64)
    precision = np.zeros((T, R))
    recall = np.zeros(T)
    n = tp.shape[1]
    if n == 0:
        return precision, recall
    rc = tp / npig
    pr = tp / (fp + tp + _EPS)
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # monotone non-increasing
    recall[:] = rc[:, -1]
    for t in range(T):
        idx = np.searchsorted(rc[t], recall_points, side="left")
        ok = idx < n
        precision[t, ok] = pr[t, idx[ok]]
    return precision, recall


@dataclass(frozen=True)
class CocoKeypointResult:
    """Figures of one evaluation (nan where there was no ground truth)."""

    ap: float
    ap50: float
    ap75: float
    ar: float
    pck: float
    pck_per_keypoint: tuple[float, ...]
    images: int
    people: int
    detections: int
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def r(x: float) -> float | None:
            return None if np.isnan(x) else round(float(x), 4)

        return {
            "AP": r(self.ap), "AP50": r(self.ap50), "AP75": r(self.ap75), "AR": r(self.ar),
            "PCK@0.2": r(self.pck), "PCK@0.2_per_keypoint": [r(x) for x in self.pck_per_keypoint],
            "images": self.images, "people": self.people, "detections": self.detections,
            **{k: r(v) for k, v in self.extra.items()},
        }


def _mean_valid(a: np.ndarray) -> float:
    a = a[a > -1]
    return float(a.mean()) if a.size else float("nan")


def pck_counts(gt: GroundTruth, det: Detections, *, alpha: float = PCK_ALPHA,
               max_dets: int = MAX_DETS, sigmas: np.ndarray = COCO_SIGMAS
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-keypoint (correct, labelled) counts for one image, each (17,) int (see module doc)."""
    keep = ~gt.ignore
    kps, bbox = gt.keypoints[keep], gt.bbox[keep]
    labelled = kps[:, :, 2] > 0  # (G,17)
    correct = np.zeros(NUM_KEYPOINTS, np.int64)
    total = labelled.sum(axis=0).astype(np.int64)
    det = det.top(max_dets)
    if len(det) == 0 or kps.shape[0] == 0:
        return correct, total
    sub = GroundTruth(kps, bbox, gt.area[keep], gt.iscrowd[keep], gt.ignore[keep])
    sim = oks(det.xy, sub, sigmas)  # (D,G)
    size = np.maximum(bbox[:, 2], bbox[:, 3])  # (G,)
    d_free = np.ones(sim.shape[0], bool)
    g_free = np.ones(sim.shape[1], bool)
    for flat in np.argsort(-sim, axis=None, kind="mergesort"):
        di, gi = np.unravel_index(flat, sim.shape)
        if not (d_free[di] and g_free[gi]) or sim[di, gi] <= 0:
            continue
        d_free[di] = g_free[gi] = False
        dist = np.linalg.norm(det.xy[di] - kps[gi, :, :2], axis=1)  # (17,)
        correct += (labelled[gi] & (dist <= alpha * size[gi])).astype(np.int64)
    return correct, total


def evaluate(dataset: CocoKeypoints, detections: Mapping[int, Detections], *,
             area: str = "all", max_dets: int = MAX_DETS) -> CocoKeypointResult:
    """COCO keypoint AP/AR (one area range) and PCK@0.2 over every image of the dataset.

    detections: image id -> Detections (a missing image means no detection).
    """
    none = Detections(np.zeros((0, NUM_KEYPOINTS, 2)), np.zeros(0))
    matches, correct, total, ndet = [], np.zeros(NUM_KEYPOINTS), np.zeros(NUM_KEYPOINTS), 0
    for im in dataset.images:
        gt, det = dataset.gt[im.id], detections.get(im.id, none)
        ndet += min(len(det), max_dets)
        matches.append(match_image(gt, det, area_range=AREA_RANGES[area], max_dets=max_dets))
        c, n = pck_counts(gt, det, max_dets=max_dets)
        correct += c
        total += n
    precision, recall = accumulate(matches)
    i50 = int(np.argmin(np.abs(OKS_THRESHOLDS - 0.5)))
    i75 = int(np.argmin(np.abs(OKS_THRESHOLDS - 0.75)))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_kp = correct / total
    return CocoKeypointResult(
        ap=_mean_valid(precision), ap50=_mean_valid(precision[i50]),
        ap75=_mean_valid(precision[i75]), ar=_mean_valid(recall),
        pck=float(correct.sum() / total.sum()) if total.sum() else float("nan"),
        pck_per_keypoint=tuple(float(x) for x in per_kp),
        images=len(dataset.images), people=sum(m.num_gt for m in matches), detections=ndet,
    )
