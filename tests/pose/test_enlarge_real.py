"""Enlarging a small input smoothly (kiosk.pose.preprocess.ENLARGE_SMOOTH) puts PoseNet's
keypoints closer to COCO's ground truth than nearest-neighbour blocks do, on real photos: the
crops of the annotated people of the COCO slice, as the match benchmark shows a far person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery.evalmatch import the_visitor
from kiosk.gallery.evalqueries import crop
from kiosk.pose import preprocess
from kiosk.pose.coco_eval import load_coco_keypoints, oks
from kiosk.pose.engine import load_pose_model
from kiosk.pose.images import load_image

PAD = 0.25  # each side, x the person's larger side: the crop keeps some context


@pytest.mark.slow
def test_smooth_enlargement_brings_small_crops_closer_to_the_ground_truth(
        shared_dir: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = shared_dir / "data/coco-mini"
    data = load_coco_keypoints(root / "person_keypoints_val2017.json")
    model = load_pose_model("posenet-481x641", models_dir=models_dir, num_threads=1)
    h_in, w_in = model.input_size
    cases = []  # (crop, the whole photo's pose in crop pixels, ground truth, person index, box)
    for im in data.images:
        gt = data.gt[im.id]
        people = [g for g in range(len(gt)) if not gt.ignore[g] and (gt.keypoints[g, :, 2] > 0).sum() >= 8]
        if not people:
            continue
        rgb = load_image(root / "val2017" / im.file_name)
        poses = model.estimate(rgb)
        if not poses:
            continue
        sim = oks(np.stack([p.xy for p in poses]), gt)
        for g in people:
            d = int(np.argmax(sim[:, g]))
            if sim[d, g] < 0.3:
                continue
            x0, y0, x1, y1 = poses[d].bbox(0.2)
            s = PAD * max(x1 - x0, y1 - y0)
            box = (max(int(x0 - s), 0), max(int(y0 - s), 0),
                   min(int(x1 + s) + 1, rgb.shape[1]), min(int(y1 + s) + 1, rgb.shape[0]))
            img = crop(rgb, box)
            if min(h_in / img.shape[0], w_in / img.shape[1]) >= preprocess.ENLARGE_SMOOTH:
                cases.append((img, poses[d].translated(-box[0], -box[1]), gt, g, box))
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
