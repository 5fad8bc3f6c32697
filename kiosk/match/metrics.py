"""The match metrics (names owned by kiosk.core.enums.Metric) and the kiosk's default.

- ``cosine``:   Move Mirror's sqrt(2 (1 - cos)) between bounding-box-normalised 34-vectors;
- ``weighted``: Move Mirror's confidence-weighted L1 distance on the same vectors;
- ``visible``:  the Euclidean distance between poses normalised on the keypoints the camera
  sees (kiosk.match.visible): a waist-up or partly hidden visitor is matched on the visible
  part, nothing unseen is clipped into the box;
- ``trimmed``:  ``visible`` forgiving up to two misplaced keypoints (kiosk.match.trimmed): the
  ``visible`` nearest re-ranked by the distance with the worst keypoints left out, at a cost each.
"""

from __future__ import annotations

from kiosk.core.enums import Metric

COSINE = Metric.COSINE
WEIGHTED = Metric.WEIGHTED
VISIBLE = Metric.VISIBLE
TRIMMED = Metric.TRIMMED

#: The metrics that compare the keypoint profile a query shows (a calibration table a profile).
PROFILE_METRICS: tuple[str, ...] = (VISIBLE, TRIMMED)
#: Every metric an index can be searched with, in a stable order.
METRICS: tuple[str, ...] = Metric.values()
#: The kiosk's default (chosen on `kiosk eval match`, see docs/match-quality.md).
DEFAULT_METRIC = Metric.TRIMMED


def check_metric(metric: str) -> str:
    """metric itself, or ValueError naming the allowed values."""
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r}: expected one of {', '.join(METRICS)}")
    return metric
