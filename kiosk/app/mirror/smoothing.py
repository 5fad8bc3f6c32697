"""One Euro filter on keypoints (Casiez, Roussel & Vogel, CHI 2012), every coordinate at once.

Each of the 34 coordinates is low-pass filtered with a cutoff that rises with its speed:
still keypoints are smoothed hard (little jitter), fast ones lightly (little lag).

    cutoff = min_cutoff + beta * |speed|        speed in pixels per second
    alpha  = 1 / (1 + 1 / (2 pi cutoff dt))

The filter is reset whenever the main person changes or leaves (`reset()`), so a new
visitor never inherits the last one's keypoints.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from kiosk.pose.types import Pose

log = logging.getLogger(__name__)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * np.asarray(cutoff) * dt))


class OneEuroFilter:
    """One Euro filter over a fixed-shape float array (here (17, 2) keypoints)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def reset(self) -> None:
        self._x = None
        self._dx = None

    @property
    def velocity(self) -> np.ndarray | None:
        """The filtered speed of each coordinate (units per second), None before two samples."""
        return None if self._dx is None else self._dx.copy()

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._dx is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return self._x.copy()
        dt = t - self._t
        if dt <= 0:  # same timestamp (or a clock step back): nothing to learn
            return self._x.copy()
        self._t = t
        dx = (x - self._x) / dt
        self._dx += _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x += _alpha(cutoff, dt) * (x - self._x)
        return self._x.copy()


class PoseSmoother:
    """One Euro on a tracked person's keypoints; restarts when the track id changes."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float, enabled: bool = True) -> None:
        self.enabled = enabled
        self.filter = OneEuroFilter(min_cutoff, beta, d_cutoff)
        self.track_id: int | None = None

    def configure(self, min_cutoff: float, beta: float, d_cutoff: float, enabled: bool) -> None:
        self.enabled = enabled
        f = self.filter
        f.min_cutoff, f.beta, f.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)

    def reset(self) -> None:
        self.filter.reset()
        self.track_id = None

    @property
    def velocity(self) -> np.ndarray | None:
        """(17, 2) keypoint speeds in pixels per second (None: not smoothing, or one sample so far)."""
        return self.filter.velocity if self.enabled else None

    def __call__(self, pose: Pose, track_id: int, t: float) -> Pose:
        if track_id != self.track_id:
            self.filter.reset()
            self.track_id = track_id
        if not self.enabled:
            return pose
        return Pose(self.filter(pose.xy, t), pose.scores, pose.score)


def carry(pose: Pose, velocity: np.ndarray | None, dt: float, max_dt: float) -> Pose:
    """The pose moved on by `dt` seconds at `velocity` ((17, 2) px/s), dt clamped to [0, max_dt]:
    a short extrapolation that brings a pose estimated on an older frame to the displayed one."""
    if velocity is None or dt <= 0 or max_dt <= 0:
        return pose
    step = np.asarray(velocity, dtype=np.float64) * min(float(dt), float(max_dt))
    return Pose(pose.xy + step, pose.scores, pose.score)
