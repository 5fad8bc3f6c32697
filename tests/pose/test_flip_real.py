"""On real photos, PoseNet's pose of a person seen close is nearer the truth when the picture is
also estimated mirrored and the two poses averaged (kiosk.pose.flip): the COCO slice's people,
cropped close as a kiosk camera sees a visitor (waist-up, and whole), against their labelled
keypoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kiosk.pose.engine import load_pose_model
from kiosk.pose.flip import FlipModel
from kiosk.pose.model import PoseModel
from kiosk.pose.types import Pose
from tests.pose.test_scales_real import label_errors, one_run


@pytest.mark.slow
def test_flip_averaged_poses_of_close_people_are_nearer_their_labels(shared_dir: Path,
                                                                     models_dir: Path) -> None:
    model = load_pose_model("posenet-481x641", models_dir=models_dir, num_threads=1)

    def flip_averaged(model: PoseModel, img: np.ndarray, pick: Callable[[list[Pose]], Pose | None]
                      ) -> Pose | None:
        return pick(FlipModel(model).estimate(img))

    one_errors, flip_errors = label_errors(shared_dir, model, [one_run, flip_averaged], np.mean)
    assert len(one_errors) >= 40
    # Measured 2026-12-02 (56 crops): mean keypoint error 0.093 -> 0.089 of the person's size.
    assert np.mean(flip_errors) < 0.98 * np.mean(one_errors)


@pytest.mark.slow
def test_cycled_flips_bring_the_votes_nearer_the_labels_at_no_extra_run(shared_dir: Path,
                                                                        models_dir: Path) -> None:
    """The CPU's default (pose.flip_views cycle): the scale views' vote over seen, mirrored,
    seen pictures, against the vote over three seen ones."""
    from kiosk.pose.scales import voted_estimate

    model = load_pose_model("posenet-481x641", models_dir=models_dir, num_threads=1)

    def cycled(model: PoseModel, img: np.ndarray, pick: Callable[[list[Pose]], Pose | None]
               ) -> Pose | None:
        return voted_estimate(model, img, pick, flips=True)

    voted_errors, cycled_errors = label_errors(shared_dir, model, [voted_estimate, cycled], np.mean)
    assert len(voted_errors) >= 40
    # Measured 2026-12-02 (53 crops): mean keypoint error 0.0805 -> 0.0778 of the person's size
    # (flip views on every frame: 0.0778, at twice the model runs).
    assert np.mean(cycled_errors) < 0.98 * np.mean(voted_errors)
