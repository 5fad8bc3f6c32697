"""The MoveNet SinglePose adapter: letterboxed input, (y, x, score) mapped back to source pixels."""

from __future__ import annotations

import logging

import numpy as np

from kiosk.pose.adapter import RuntimeModel, to_poses
from kiosk.pose.movenet_decode import decode_movenet
from kiosk.pose.preprocess import Transform
from kiosk.pose.runtime import Runtime
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)


def is_movenet_output(shapes: list[tuple[int, ...]]) -> bool:
    return len(shapes) == 1 and shapes[0][-2:] == (17, 3)


class MoveNetModel(RuntimeModel):
    """Single-person MoveNet Lightning: always returns one pose (check its score)."""

    family = "movenet"

    def __init__(self, runtime: Runtime, name: str, *, preprocess: str = "default") -> None:
        if not is_movenet_output(runtime.output_shapes):
            raise ValueError(
                f"{runtime.path.name}: outputs {runtime.output_shapes} are not MoveNet's [1, 1, 17, 3]"
            )
        super().__init__(runtime, name, preprocess)

    def _decode(self, outputs: list[np.ndarray], tf: Transform) -> list[Pose]:
        return to_poses([decode_movenet(outputs[0], self.input_size)], tf, pixel_index=False)
