"""kiosk.pose.coco_people: annotated COCO people paired with a model's best detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from kiosk.pose.coco_eval import CocoImage, CocoKeypoints, GroundTruth
from kiosk.pose.coco_people import detected_people
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND

XY = np.asarray(STAND, dtype=np.float64)
RIGHT = np.array([300.0, 0.0])  # another person, beside


def _annotation(xy: np.ndarray, labelled: int, crowd: int = 0) -> dict[str, object]:
    v = np.where(np.arange(17) < labelled, 2, 0)
    x0, y0 = xy.min(axis=0)
    w, h = xy.max(axis=0) - (x0, y0)
    return {"keypoints": np.column_stack([xy, v]).ravel().tolist(), "bbox": [x0, y0, w, h],
            "area": float(w * h), "iscrowd": crowd}


def test_each_annotated_person_gets_the_detection_that_matches_best(tmp_path: Path) -> None:
    Image.new("RGB", (640, 480)).save(tmp_path / "a.jpg")
    gt = GroundTruth.from_annotations([
        _annotation(XY, 17),  # found: the close detection
        _annotation(XY + RIGHT, 7),  # too few labelled keypoints
        _annotation(XY + RIGHT / 2, 17, crowd=1),  # a crowd
    ])
    data = CocoKeypoints((CocoImage(1, "a.jpg", 640, 480), CocoImage(2, "missing.jpg", 640, 480)),
                         {1: gt, 2: GroundTruth.empty()})  # no one annotated: the photo is not read
    close, far = Pose(XY + 2, np.full(17, 0.5)), Pose(XY + RIGHT, np.full(17, 0.9))
    found = list(detected_people(data, tmp_path, FakePoseModel([[far, close]])))
    assert [(p.index, p.pose is close) for p in found] == [(0, True)]
    assert found[0].oks > 0.9 and found[0].rgb.shape == (480, 640, 3)
    assert list(detected_people(data, tmp_path, FakePoseModel([[far]]))) == []  # OKS below 0.3
