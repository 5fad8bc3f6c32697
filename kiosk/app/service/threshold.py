"""The kiosk's match threshold, in one place, for the curator tools (query, report, contact sheets).

A match farther than this is the "No good match" state on the screen. match.max_distance is in
calibrated units (kiosk.match.calibration); given the index, the threshold is a raw distance of
the index's metric (kiosk.gallery.calibrate.kiosk_threshold), which is what the curator tools
draw next to raw distances. Under the profile metrics (visible, trimmed) each visible profile
has its own calibration, so the raw threshold depends on what the query shows: a waist-up
visitor's distances are measured on their own scale. MatchThreshold.raw gives it per profile,
the kiosk's own rule (kiosk.app.mirror.matcher); max_distance is the whole-body profile's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.match.visible import Profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchThreshold:
    metric: str  # the distance the threshold applies to (kiosk.match.metrics.METRICS)
    max_distance: float  # raw, of the whole-body profile (with an index; else calibrated units)
    source: str  # where it came from (the config file), for the report
    #: the raw threshold of a query's visible profile (Found.profile); None: max_distance for all
    per_profile: Callable[[Profile | None], float] | None = None

    def raw(self, profile: Profile | None = None) -> float:
        """The raw distance beyond which the kiosk says "No good match" to a query that showed
        this visible profile (None: the whole body, or a metric without profiles)."""
        return self.max_distance if self.per_profile is None else self.per_profile(profile)


def match_threshold(config_path: str | Path | None = None, index: Any = None,
                    metric: str | None = None) -> MatchThreshold:
    """The threshold of the kiosk's configuration (--config, $KIOSK_CONFIG, /etc/move-mirror/
    kiosk.yaml, the checkout's config/kiosk.yaml: the same file `kiosk run` reads); with an
    index (a GalleryIndex), as raw distances of that index (else the calibrated value), of
    `metric` (default: the configuration's index.metric)."""
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import load_config

    path = default_config_path(config_path)
    config = load_config(path if path.is_file() or config_path else None)  # a named file must exist
    metric = metric or str(config.index.metric)
    source = str(path) if path.is_file() else "the built-in defaults"
    if index is None:
        return MatchThreshold(metric, float(config.match.max_distance), source)
    from kiosk.gallery.calibrate import kiosk_threshold

    th = kiosk_threshold(index, metric, config.match.max_distance, config.match.hysteresis_margin)
    return MatchThreshold(metric, th.raw_max_distance(), source, th.raw_max_distance)
