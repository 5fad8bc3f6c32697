"""MoveNet SinglePose decoding in pure numpy.

MoveNet's output is [1, 1, 17, 3]: per COCO-17 keypoint (y, x, score), y and x normalised to the
(padded) model input, 0..1 from the top/left edge to the bottom/right edge. Decoding turns them into
continuous model-input pixel coordinates (x, y) = (x_n * width, y_n * height); the caller maps them
back to the source frame with the preprocessing :class:`~kiosk.pose.preprocess.Transform`, which
undoes the letterbox padding and scaling, so portrait and landscape frames both land right.
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.core.keypoints import NUM_KEYPOINTS
from kiosk.pose.posenet_decode import DecodedPose

log = logging.getLogger(__name__)


def decode_movenet(output: np.ndarray, input_size: tuple[int, int]) -> DecodedPose:
    """output: (1, 1, 17, 3) or (17, 3) (y, x, score); input_size: (height, width).

    Returns xy (17, 2) float32 continuous model-input pixels in (x, y) order, scores (17,),
    pose score = mean keypoint score.
    """
    out = np.asarray(output, dtype=np.float32).reshape(-1, 3)
    if out.shape[0] != NUM_KEYPOINTS:
        raise ValueError(f"MoveNet output must hold 17 keypoints x (y, x, score), got {output.shape}")
    h, w = input_size
    xy = np.stack([out[:, 1] * w, out[:, 0] * h], axis=1).astype(np.float32)
    scores = np.clip(out[:, 2], 0.0, 1.0).astype(np.float32)
    return DecodedPose(xy, scores, float(scores.mean()))
