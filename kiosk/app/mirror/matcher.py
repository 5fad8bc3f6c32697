"""The loop's view of the index: the best matches within match.max_distance, and the
distance of any entry (the photo on screen) to the current pose, with the same metric.

Distances leave the Matcher in *calibrated units* (kiosk.match.calibration): the same scale
for every metric, so match.max_distance and match.hysteresis_margin mean the same under each.
The index supplies the calibration (index.calibration()); kiosk.gallery.calibrate's
kiosk_threshold turns the config into raw distances.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from kiosk.gallery.calibrate import MatchThreshold, kiosk_threshold
from kiosk.match import cosine_distance, pose_vector, weighted_distance
from kiosk.match.metrics import PROFILE_METRICS, WEIGHTED, check_metric
from kiosk.match.visible import PROFILES
from kiosk.pose.types import NUM_KEYPOINTS, Pose

log = logging.getLogger(__name__)

#: The warm-up's visitors, by seen keypoints: a whole body (its stored profile's tree), seated
#: or waist-up (another stored profile), wrists and ankles unseen (a dynamic profile: searched
#: exhaustively, then re-ranked). kiosk.match.visible.choose_profile picks the profile.
WARM_UP_SEEN: tuple[tuple[int, ...], ...] = (
    tuple(range(NUM_KEYPOINTS)), PROFILES["torso_arms"], (0, 5, 6, 7, 8, 11, 12, 13, 14))


class Matcher:
    def __init__(self, index: Any, metric: str, max_distance: float,
                 hysteresis_margin: float = 0.0, *, wait_for_tables: bool = True) -> None:
        """wait_for_tables=False (the running kiosk): a new dynamic visible profile is calibrated
        in the background, not in this call (calibrate.DynamicTables)."""
        self.index = index
        self.metric = check_metric(metric)
        self.threshold: MatchThreshold = kiosk_threshold(index, metric, max_distance, hysteresis_margin,
                                                         wait_for_tables=wait_for_tables)
        self.max_distance = float(max_distance)
        self._vectors = index.vectors()
        self._pose: Pose | None = None
        self._vec: np.ndarray | None = None
        self._conf: np.ndarray | None = None
        self._profile: str | tuple[int, ...] | None = None

    def warm_up(self) -> None:
        """Queries now, so that the search kernels are compiled before the first visitor, not
        while one waits: every path a visitor can take (WARM_UP_SEEN)."""
        t = np.linspace(0.0, 1.0, NUM_KEYPOINTS, dtype=np.float32)
        xy = np.stack([100 + 50 * np.sin(7 * t), 100 + 300 * t], axis=1)
        for seen in WARM_UP_SEEN:
            scores = np.zeros(NUM_KEYPOINTS)
            scores[list(seen)] = 1.0
            try:
                self.index.query(Pose(xy, scores), k=1, metric=self.metric)
            except Exception as exc:  # the real queries will report it
                log.debug("warm-up query failed: %s", exc)

    def candidates(self, pose: Pose, k: int = 1) -> list[tuple[int, float]]:
        """Up to k (entry id, calibrated distance) within max_distance, nearest first."""
        self._pose, self._profile = pose, None
        if self.metric in PROFILE_METRICS:
            found = self.index.search(pose, k=k, metric=self.metric)
            self._profile = found.profile
            matches = found.matches
        else:  # normalised once a frame: the search and distance_to share it
            self._vec, self._conf = pose_vector(pose)
            matches = self.index.query_vector(self._vec, self._conf, k=k, metric=self.metric)
        out = [(int(m.entry_id), self.threshold.to_unit(float(m.distance), self._profile))
               for m in matches]
        return [(i, d) for i, d in out if d <= self.max_distance]

    def best(self, pose: Pose) -> tuple[int, float] | None:
        """(entry id, calibrated distance) of the nearest entry within max_distance, else None."""
        found = self.candidates(pose, k=1)
        return found[0] if found else None

    def distance_to(self, entry_id: int) -> float:
        """Calibrated distance from the last queried pose to entry_id."""
        if self._pose is None:
            raise RuntimeError("distance_to() needs a best() or candidates() query first")
        if self.metric in PROFILE_METRICS:
            raw = self.index.distance(self._pose, entry_id, self.metric, self._profile)
        else:
            assert self._vec is not None and self._conf is not None
            g = np.asarray(self._vectors[entry_id])
            raw = (weighted_distance(self._vec, self._conf, g) if self.metric == WEIGHTED
                   else cosine_distance(self._vec, g))
        return self.threshold.to_unit(float(raw), self._profile)


__all__ = ["Matcher"]
