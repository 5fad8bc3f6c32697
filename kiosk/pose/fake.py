"""A scripted PoseModel for tests: returns the poses it is given, no interpreter involved."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from kiosk.core.enums import Preprocess
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

PoseScript = Sequence[Sequence[Pose]] | Callable[[np.ndarray], Sequence[Pose]]


class FakePoseModel:
    """A full citizen of the PoseModel protocol, scripted.

    poses_per_call: a list with the poses to return on each call (cycled when exhausted, so a
    short script can drive a long loop), or a function frame -> poses. Poses are returned sorted
    by score, highest first, like the real models. ``calls`` counts estimate() calls and
    ``frames`` keeps the shapes of the frames seen.
    """

    def __init__(
        self,
        poses_per_call: PoseScript,
        *,
        name: str = "fake",
        family: str = "posenet",
        delegate: str = "cpu",
        input_size: tuple[int, int] = (481, 641),
        sha256: str = "0" * 64,
        preprocess: Preprocess = Preprocess.DEFAULT,
        delay: float = 0.0,
    ) -> None:
        if not callable(poses_per_call) and len(poses_per_call) == 0:
            raise ValueError("FakePoseModel needs at least one scripted call (or a function)")
        self._script = poses_per_call
        self.name = name
        self.family = family
        self.delegate = delegate
        self.sha256 = sha256
        self.input_size = input_size
        self.preprocess = preprocess
        self.delay = delay  # seconds each estimate() sleeps, like a model's invoke
        self.last_timings: dict[str, float] = {"preprocess": 0.0, "invoke": 0.0, "decode": 0.0}
        self.calls = 0
        self.frames: list[tuple[int, ...]] = []

    def estimate(self, rgb: np.ndarray, margin: float = 0.0) -> list[Pose]:
        """A function script sees the frame with its margin as the real models fit it (on a
        black canvas round it: ``frames`` records the canvas) and its poses are mapped back; a
        scripted list is the poses found in the frame, whatever the margin."""
        from kiosk.pose.scales import padded

        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
        if self.delay:
            time.sleep(self.delay)
        seen, (dx, dy) = padded(rgb, margin)
        if callable(self._script):
            poses = [p.translated(-dx, -dy) for p in self._script(seen)]
        else:
            poses = list(self._script[self.calls % len(self._script)])
        self.calls += 1
        self.frames.append(seen.shape)
        for p in poses:
            if not isinstance(p, Pose):
                raise TypeError(f"scripted poses must be Pose instances, got {type(p).__name__}")
        return sorted(poses, key=lambda p: -p.score)

    def __repr__(self) -> str:
        return f"FakePoseModel(name={self.name!r}, calls={self.calls})"
