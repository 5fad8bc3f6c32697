"""The kiosk's eyes: pose models (PoseNet, MoveNet), decoders and the shared Pose type."""

from __future__ import annotations

from kiosk.pose.types import FLIP_INDEX, KEYPOINT_NAMES, NUM_KEYPOINTS, SKELETON, Pose

__all__ = ["FLIP_INDEX", "KEYPOINT_NAMES", "NUM_KEYPOINTS", "SKELETON", "Pose"]
