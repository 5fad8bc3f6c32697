"""The VP-tree against brute force on poses the real pose engine finds in real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.match import VPTree, flip_vector, pose_vector
from tests.match.conftest import synth
from tests.match.test_vptree import check_cosine, check_weighted

PHOTOS = ("tennis_standing.jpg", "skiing.jpg", "baseball.jpg", "frisbee.jpg", "two_on_bench.jpg",
          "multi_skiing.jpg", "tennis_in_crowd.jpg", "soccer.png", "snowboard.jpg", "kyte.jpg")


@pytest.fixture(scope="module")
def detected(shared_dir: Path, models_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every pose the default model finds in ten PoseNet demo photos: (P, 34), (P, 17)."""
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.images import load_image

    model = load_pose_model(delegate="cpu", models_dir=models_dir)
    vecs, confs = [], []
    for name in PHOTOS:
        for pose in model.estimate(load_image(shared_dir / "data/posenet-demo-images" / name)):
            v, c = pose_vector(pose)
            vecs.append(v)
            confs.append(c)
    assert len(vecs) >= 10, "the demo photos show at least ten people"
    return np.asarray(vecs), np.asarray(confs)


def test_detected_poses_match_brute_force(backend: str, detected) -> None:
    v, conf = detected
    assert (conf < 0.2).any(), "real detections include low-confidence keypoints"
    gallery = np.concatenate([v, flip_vector(v), synth(800, 41)[0]])
    tree = VPTree.build(gallery, seed=2, leaf_size=8)
    for k in (1, 5, 20):
        check_cosine(tree, gallery, v, k)
        check_weighted(tree, gallery, v, conf, k)
    # mirrored queries find the mirrored copies at distance ~0
    _ids, d = tree.search(flip_vector(v), k=1)
    assert (d[:, 0] < 1e-5).all()
