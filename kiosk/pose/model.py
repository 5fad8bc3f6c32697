"""The `PoseModel` protocol: what every pose model (real or fake) offers its callers.

Implemented by `kiosk.pose.adapter.RuntimeModel` (PoseNet, MoveNet on an interpreter) and by its
twin `kiosk.pose.fake.FakePoseModel` (scripted poses, no interpreter). `WrappedModel` is the base
of the models that run another one in their own way (kiosk.pose.views, kiosk.pose.flip, the
loop benchmark's delayed model).
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


class WrappedModel:
    """A PoseModel that runs `model` in its own way: the same name, family, delegate, sha256,
    input size and preprocessing (callers that cache poses key them by the wrapping as well);
    subclasses define estimate() and keep last_timings (here: the wrapped model's, copied)."""

    def __init__(self, model: PoseModel) -> None:
        self.model = model
        self.name = model.name
        self.family = model.family
        self.delegate = model.delegate
        self.sha256 = model.sha256
        self.input_size = model.input_size
        self.preprocess: Preprocess = model.preprocess
        self.last_timings: dict[str, float] = dict(model.last_timings)
