"""The `PoseModel` protocol: what every pose model (real or fake) offers its callers.

Implemented by `kiosk.pose.adapter.RuntimeModel` (PoseNet, MoveNet on an interpreter) and by its
twin `kiosk.pose.fake.FakePoseModel` (scripted poses, no interpreter).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from kiosk.core.enums import Preprocess
from kiosk.pose.types import Pose


@runtime_checkable
class PoseModel(Protocol):
    name: str  # logical manifest name, e.g. "movenet-lightning" (file stem for ad-hoc paths)
    family: str  # "posenet" | "movenet" (ModelFamily)
    delegate: str  # delegate actually in use: "cpu" | "edgetpu" (Variant)
    sha256: str  # of the model file loaded
    input_size: tuple[int, int]  # (height, width) of the model input
    preprocess: Preprocess  # how a frame is fitted to input_size
    last_timings: dict[str, float]  # ms of the last estimate(): "preprocess", "invoke", "decode"

    def estimate(self, rgb: np.ndarray, margin: float = 0.0) -> list[Pose]:
        """(H, W, 3) uint8 RGB -> poses sorted by score desc, xy (x, y) in source pixels.

        margin in [0, 1]: the frame seen as if centred on a black canvas with that share of its
        width and height on every side (the person smaller; kiosk.pose.scales)."""
        ...
