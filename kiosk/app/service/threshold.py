"""The kiosk's match threshold, in one place, for the curator tools (report, contact sheets).

A match farther than this is the "No good match" state on the screen. match.max_distance is in
calibrated units (kiosk.match.calibration); given the index, the threshold is the raw distance
of the index's metric (kiosk.gallery.calibrate.kiosk_threshold: for the visible metric, that of
the whole-body profile), which is what the curator tools draw next to raw distances.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchThreshold:
    metric: str  # the distance the threshold applies to (kiosk.match.metrics.METRICS)
    max_distance: float
    source: str  # where it came from (the config file), for the report


def match_threshold(config_path: str | Path | None = None, index: Any = None) -> MatchThreshold:
    """The threshold of the kiosk's configuration (--config, $KIOSK_CONFIG, /etc/move-mirror/
    kiosk.yaml, the checkout's config/kiosk.yaml: the same file `kiosk run` reads); with an
    index (a GalleryIndex), as a raw distance of that index (else the calibrated value)."""
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import load_config

    path = default_config_path(config_path)
    config = load_config(path if path.is_file() or config_path else None)  # a named file must exist
    max_distance = float(config.match.max_distance)
    if index is not None:
        from kiosk.gallery.calibrate import kiosk_threshold

        max_distance = kiosk_threshold(index, config.index.metric, max_distance,
                                       config.match.hysteresis_margin).raw_max_distance()
    return MatchThreshold(config.index.metric, max_distance,
                          str(path) if path.is_file() else "the built-in defaults")
