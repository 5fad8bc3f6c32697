"""MoveNet (and PoseNet) on real photos land keypoints where COCO's annotators put them,
including portrait crops and wide padded frames (the letterbox is undone correctly)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kiosk.pose.engine import PoseModel, load_pose_model
from kiosk.pose.images import load_image

#: Share of visible keypoints that must land within 0.1 x person size. A wrong letterbox or
#: portrait mapping moves nearly every keypoint far away; the two runtimes (LiteRT and
#: tflite-runtime 2.14) differ slightly in their int8 kernels (13/16 vs 14/16 on 153797).
MIN_CLOSE = 0.75

SINGLE = ["000000153797.jpg", "000000109313.jpg", "000000406129.jpg", "000000368212.jpg"]


@pytest.fixture(scope="module")
def coco(shared_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """file -> (image, (17, 3) ground-truth keypoints x, y, v, person size)."""
    root = shared_dir / "data/coco-mini"
    data = json.loads((root / "person_keypoints_val2017.json").read_text())
    ids = {im["file_name"]: im["id"] for im in data["images"]}
    out = {}
    for name in SINGLE:
        [ann] = [a for a in data["annotations"] if a["image_id"] == ids[name]]
        gt = np.array(ann["keypoints"], np.float32).reshape(17, 3)
        out[name] = (load_image(root / "val2017" / name), gt, float(max(ann["bbox"][2:])))
    return out


def _close(model: PoseModel, rgb: np.ndarray, gt: np.ndarray, size: float, dx: float = 0.0) -> float:
    pose = model.estimate(rgb)[0]
    vis = gt[:, 2] > 0
    err = np.linalg.norm(pose.xy[vis] - (gt[vis, :2] - [dx, 0.0]), axis=1)
    return float(np.mean(err < 0.1 * size))


@pytest.fixture(scope="module")
def movenet(models_dir: Path) -> PoseModel:
    return load_pose_model("movenet-lightning", delegate="cpu", models_dir=models_dir)


@pytest.mark.parametrize("name", SINGLE)
def test_movenet_matches_coco_ground_truth(movenet: PoseModel, coco: dict, name: str) -> None:
    rgb, gt, size = coco[name]
    assert _close(movenet, rgb, gt, size) >= MIN_CLOSE


@pytest.mark.parametrize("name", SINGLE)
def test_movenet_portrait_crop_maps_back(movenet: PoseModel, coco: dict, name: str) -> None:
    rgb, gt, size = coco[name]
    h, w = rgb.shape[:2]
    cw = min(w, int(h * 0.6))
    vis = gt[:, 2] > 0
    cx = int(np.clip(gt[vis, 0].mean() - cw / 2, 0, w - cw))
    crop = np.ascontiguousarray(rgb[:, cx : cx + cw])
    assert crop.shape[0] > crop.shape[1]  # portrait
    assert _close(movenet, crop, gt, size, dx=cx) >= MIN_CLOSE


def test_movenet_wide_padded_frame_maps_back(movenet: PoseModel, coco: dict) -> None:
    rgb, gt, size = coco["000000109313.jpg"]
    h, w = rgb.shape[:2]
    wide = np.zeros((h, 2 * w, 3), np.uint8)
    wide[:, w // 2 : w // 2 + w] = rgb
    assert _close(movenet, wide, gt, size, dx=-(w // 2)) >= MIN_CLOSE


def test_posenet_agrees_with_coco_too(models_dir: Path, coco: dict) -> None:
    model = load_pose_model("posenet-481x641", delegate="cpu", models_dir=models_dir)
    rgb, gt, size = coco["000000109313.jpg"]
    assert _close(model, rgb, gt, size) >= MIN_CLOSE
    rgb, gt, size = coco["000000368212.jpg"]
    assert _close(model, rgb, gt, size) >= MIN_CLOSE
