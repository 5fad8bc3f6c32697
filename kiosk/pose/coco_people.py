"""The annotated people of a COCO keypoints slice paired with a model's detections on the whole
photo (for probes of how a model sees people: tests/pose/test_enlarge_real.py,
scripts/probe_topdown.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.pose.coco_eval import CocoKeypoints, GroundTruth, oks
from kiosk.pose.model import PoseModel
from kiosk.pose.types import Pose


@dataclass(frozen=True)
class DetectedPerson:
    """An annotated COCO person and the model's detection on the whole photo that matches best."""

    rgb: np.ndarray  # (H, W, 3) the photo
    pose: Pose  # the detection (photo pixels)
    gt: GroundTruth  # the photo's annotations
    index: int  # the person's row in gt
    oks: float  # of pose against the person


def detected_people(data: CocoKeypoints, images_dir: Path, model: PoseModel, *, min_labelled: int = 8,
                    min_oks: float = 0.3) -> Iterator[DetectedPerson]:
    """Every annotated person (not a crowd, >= min_labelled labelled keypoints) whose best-matching
    detection by model.estimate on the whole photo has an OKS >= min_oks."""
    from kiosk.pose.images import load_image

    for im in data.images:
        gt = data.gt[im.id]
        people = [g for g in range(len(gt))
                  if not gt.ignore[g] and int((gt.keypoints[g, :, 2] > 0).sum()) >= min_labelled]
        if not people:
            continue
        rgb = load_image(images_dir / im.file_name)
        poses = model.estimate(rgb)
        if not poses:
            continue
        sim = oks(np.stack([p.xy for p in poses]), gt)
        for g in people:
            d = int(np.argmax(sim[:, g]))
            if sim[d, g] >= min_oks:
                yield DetectedPerson(rgb, poses[d], gt, g, float(sim[d, g]))
