"""Enlarging a small input smoothly (kiosk.pose.preprocess.ENLARGE_SMOOTH) puts PoseNet's
keypoints closer to COCO's ground truth than nearest-neighbour blocks do, on real photos: the
crops of the annotated people of the COCO slice, as the match benchmark shows a far person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery.evalmatch import the_visitor
from kiosk.gallery.evalqueries import crop, padded_box
from kiosk.pose import preprocess
from kiosk.pose.coco_eval import load_coco_keypoints, oks
from kiosk.pose.coco_people import detected_people
from kiosk.pose.engine import load_pose_model
from kiosk.pose.preprocess import fit_scale

PAD = 0.25  # each side, x the person's larger side: the crop keeps some context


@pytest.mark.slow
def test_smooth_enlargement_brings_small_crops_closer_to_the_ground_truth(
        shared_dir: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = shared_dir / "data/coco-mini"
    data = load_coco_keypoints(root / "person_keypoints_val2017.json")
    model = load_pose_model("posenet-481x641", models_dir=models_dir, num_threads=1)
    cases = []  # (crop, the whole photo's pose in crop pixels, ground truth, person index, box)
    for p in detected_people(data, root / "val2017", model):
        box = padded_box(p.pose, PAD, p.rgb.shape[1], p.rgb.shape[0])
        img = crop(p.rgb, box)
        if fit_scale(img.shape[:2], model.input_size) >= preprocess.ENLARGE_SMOOTH:
            cases.append((img, p.pose.translated(-box[0], -box[1]), p.gt, p.index, box))
    assert len(cases) >= 10  # the slice holds enough small people

    def mean_oks() -> float:
        found = []
        for img, ref, gt, g, box in cases:
            p = the_visitor(model.estimate(img), ref, img.shape[:2], 0.2)
            found.append(0.0 if p is None else float(oks(p.translated(box[0], box[1]).xy[None], gt)[0, g]))
        return float(np.mean(found))

    smooth = mean_oks()
    monkeypatch.setattr(preprocess, "ENLARGE_SMOOTH", float("inf"))  # nearest neighbour only
    blocky = mean_oks()
    assert smooth > blocky + 0.05, (smooth, blocky)
