"""What the runtime-backed pose models share: identity from the runtime and the timed estimate.

A family adapter (PoseNet, MoveNet) subclasses `RuntimeModel` and implements `_decode`;
`estimate` times the three stages into `last_timings` (ms) the same way for every model.
"""

from __future__ import annotations

import time

import numpy as np

from kiosk.core.enums import Preprocess
from kiosk.pose.posenet_decode import DecodedPose
from kiosk.pose.preprocess import Transform, prepare
from kiosk.pose.runtime import Runtime
from kiosk.pose.types import Pose


def to_poses(decoded: list[DecodedPose], tf: Transform, pixel_index: bool) -> list[Pose]:
    """Map decoded model-input coordinates to source pixels (clipped to the frame) as Poses.

    pixel_index: the decoder reports pixel-index coordinates (PoseNet), so add half a pixel.
    """
    h, w = tf.source_size
    poses = []
    for d in decoded:
        xy = tf.to_source(d.xy + (0.5 if pixel_index else 0.0))
        np.clip(xy[:, 0], 0.0, float(w), out=xy[:, 0])
        np.clip(xy[:, 1], 0.0, float(h), out=xy[:, 1])
        poses.append(Pose(xy, d.scores, d.score))
    poses.sort(key=lambda p: -p.score)
    return poses


class RuntimeModel:
    """A `PoseModel` over one interpreter `Runtime` (see kiosk.pose.engine.PoseModel)."""

    family = ""

    def __init__(self, runtime: Runtime, name: str, preprocess: str) -> None:
        self.preprocess = Preprocess.parse(preprocess, "preprocess")
        self.runtime = runtime
        self.name = name
        self.delegate = runtime.delegate
        self.sha256 = runtime.sha256
        self.input_size = runtime.input_size
        self.last_timings: dict[str, float] = {"preprocess": 0.0, "invoke": 0.0, "decode": 0.0}

    def _decode(self, outputs: list[np.ndarray], tf: Transform) -> list[Pose]:
        """The runtime's dequantised outputs -> poses in source pixels, score desc."""
        raise NotImplementedError

    def estimate(self, rgb: np.ndarray, margin: float = 0.0) -> list[Pose]:
        """(H, W, 3) uint8 RGB -> poses sorted by score desc, xy in source pixels; margin: the
        frame seen with a black margin (kiosk.pose.preprocess, kiosk.pose.scales)."""
        t0 = time.perf_counter()
        tensor, tf = prepare(rgb, self.input_size, self.preprocess, margin)
        t1 = time.perf_counter()
        outputs, invoke_ms = self.runtime.invoke(tensor)
        t2 = time.perf_counter()
        poses = self._decode(outputs, tf)
        t3 = time.perf_counter()
        self.last_timings = {
            "preprocess": (t1 - t0) * 1000.0,
            "invoke": invoke_ms,
            "decode": (t3 - t2) * 1000.0,
        }
        return poses

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, delegate={self.delegate!r})"
