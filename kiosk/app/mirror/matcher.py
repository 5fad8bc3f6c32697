"""The loop's view of the index: best match within match.max_distance, and the distance of
any entry (the photo on screen) to the current pose, with the same metric."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from kiosk.match import cosine_distance, pose_vector, weighted_distance
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)


class Matcher:
    def __init__(self, index: Any, metric: str, max_distance: float) -> None:
        self.index = index
        self.metric = metric
        self.max_distance = float(max_distance)
        self._vectors = index.vectors()
        self._vec: np.ndarray | None = None
        self._conf: np.ndarray | None = None

    def warm_up(self) -> None:
        """One query now, so that the search kernels are compiled before the first visitor."""
        from kiosk.pose.types import NUM_KEYPOINTS

        t = np.linspace(0.0, 1.0, NUM_KEYPOINTS, dtype=np.float32)
        pose = Pose(np.stack([100 + 50 * np.sin(7 * t), 100 + 300 * t], axis=1), np.ones(NUM_KEYPOINTS))
        try:
            self.index.query(pose, k=1, metric=self.metric)
        except Exception as exc:  # the real queries will report it
            log.debug("warm-up query failed: %s", exc)

    def best(self, pose: Pose) -> tuple[int, float] | None:
        """(entry id, distance) of the nearest entry within max_distance, else None."""
        self._vec, self._conf = pose_vector(pose)  # once a frame: the search and distance_to share it
        found = self.index.query_vector(self._vec, self._conf, k=1, metric=self.metric,
                                        max_distance=self.max_distance)
        if not found:
            return None
        return int(found[0].entry_id), float(found[0].distance)

    def distance_to(self, entry_id: int) -> float:
        """Distance from the last queried pose to entry_id."""
        if self._vec is None or self._conf is None:
            raise RuntimeError("distance_to() needs a best() query first")
        g = np.asarray(self._vectors[entry_id])
        if self.metric == "weighted":
            return float(weighted_distance(self._vec, self._conf, g))
        return float(cosine_distance(self._vec, g))
