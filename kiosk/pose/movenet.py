"""The MoveNet SinglePose adapter: letterboxed input, (y, x, score) mapped back to source pixels."""

from __future__ import annotations

import logging
import time

import numpy as np

from kiosk.pose.movenet_decode import decode_movenet
from kiosk.pose.posenet import to_poses
from kiosk.pose.preprocess import prepare
from kiosk.pose.runtime import Runtime
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)


def is_movenet_output(shapes: list[tuple[int, ...]]) -> bool:
    return len(shapes) == 1 and shapes[0][-2:] == (17, 3)


class MoveNetModel:
    """Single-person MoveNet Lightning: always returns one pose (check its score)."""

    family = "movenet"

    def __init__(self, runtime: Runtime, name: str, *, preprocess: str = "default") -> None:
        if not is_movenet_output(runtime.output_shapes):
            raise ValueError(
                f"{runtime.path.name}: outputs {runtime.output_shapes} are not MoveNet's [1, 1, 17, 3]"
            )
        self.runtime = runtime
        self.name = name
        self.delegate = runtime.delegate
        self.sha256 = runtime.sha256
        self.input_size = runtime.input_size
        self.preprocess = preprocess
        self.last_timings: dict[str, float] = {"preprocess": 0.0, "invoke": 0.0, "decode": 0.0}

    def estimate(self, rgb: np.ndarray) -> list[Pose]:
        """(H, W, 3) uint8 RGB -> [pose], xy in source pixels."""
        t0 = time.perf_counter()
        tensor, tf = prepare(rgb, self.input_size, self.preprocess)
        t1 = time.perf_counter()
        outs, invoke_ms = self.runtime.invoke(tensor)
        t2 = time.perf_counter()
        poses = to_poses([decode_movenet(outs[0], self.input_size)], tf, pixel_index=False)
        t3 = time.perf_counter()
        self.last_timings = {
            "preprocess": (t1 - t0) * 1000.0,
            "invoke": invoke_ms,
            "decode": (t3 - t2) * 1000.0,
        }
        return poses

    def __repr__(self) -> str:
        return f"MoveNetModel({self.name!r}, delegate={self.delegate!r})"
