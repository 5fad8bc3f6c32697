"""The PoseNet adapter: preprocess -> interpreter -> numpy multi-pose decoding -> Poses.

Works with the decoder-stripped Coral models and with the "components" models: both expose the
raw heatmaps (17 channels), short offsets (34) and mid-range displacements (64), told apart by
their channel counts.
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.core.keypoints import NUM_KEYPOINTS
from kiosk.pose.adapter import RuntimeModel, to_poses
from kiosk.pose.posenet_decode import NUM_EDGES, decode_multiple_poses
from kiosk.pose.posenet_walk import warm_up
from kiosk.pose.preprocess import Transform
from kiosk.pose.runtime import Runtime
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

_CHANNELS = {"heatmaps": NUM_KEYPOINTS, "offsets": 2 * NUM_KEYPOINTS, "displacements": 4 * NUM_EDGES}


def raw_output_order(shapes: list[tuple[int, ...]]) -> tuple[int, int, int] | None:
    """Indices of (heatmaps, offsets, displacements) among output shapes, or None if not PoseNet."""
    by_channels = {s[-1]: i for i, s in enumerate(shapes) if len(s) == 4}
    try:
        return tuple(by_channels[c] for c in _CHANNELS.values())  # type: ignore[return-value]
    except KeyError:
        return None


class PoseNetModel(RuntimeModel):
    """Multi-person PoseNet (MobileNet v1 0.75, Coral's quantized models)."""

    family = "posenet"

    def __init__(
        self,
        runtime: Runtime,
        name: str,
        *,
        preprocess: str = "default",
        max_poses: int = 10,
        score_threshold: float = 0.2,
        nms_radius: float = 10.0,
        coral_quirk: bool = False,
    ) -> None:
        order = raw_output_order(runtime.output_shapes)
        if order is None:
            raise ValueError(
                f"{runtime.path.name}: outputs {runtime.output_shapes} are not PoseNet's raw "
                "heatmaps/offsets/displacements (a Coral *_decoder model must be stripped first: "
                "`kiosk models strip-decoder IN OUT`, or `kiosk models fetch` does it)"
            )
        super().__init__(runtime, name, preprocess)
        self._order = order
        grid_h = runtime.output_shapes[order[0]][1]
        self.stride = round((self.input_size[0] - 1) / max(grid_h - 1, 1))
        self.max_poses = max_poses
        self.score_threshold = score_threshold
        self.nms_radius = nms_radius
        self.coral_quirk = coral_quirk
        warm_up()  # compile (or load from numba's cache) the decoder's kernel now, not on frame 1

    def raw_outputs(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Run on a prepared (H, W, 3) input: (heatmaps, offsets, displacements, invoke ms)."""
        outs, ms = self.runtime.invoke(tensor)
        hm, off, disp = self._split(outs)
        return hm, off, disp, ms

    def _split(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(heatmaps, offsets, displacements), each (h, w, c), from the runtime's outputs."""
        hm, off, disp = (outputs[i][0] for i in self._order)
        return hm, off, disp

    def _decode(self, outputs: list[np.ndarray], tf: Transform) -> list[Pose]:
        hm, off, disp = self._split(outputs)
        decoded = decode_multiple_poses(
            hm,
            off,
            disp,
            max_poses=self.max_poses,
            score_threshold=self.score_threshold,
            nms_radius=self.nms_radius,
            stride=self.stride,
            coral_quirk=self.coral_quirk,
        )
        return to_poses(decoded, tf, pixel_index=True)
