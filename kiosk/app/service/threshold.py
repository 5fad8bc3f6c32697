"""The kiosk's match threshold, in one place, for the curator tools (report, contact sheets).

A match farther than this is the "No good match" state on the screen. The matching engineer may
recalibrate it (per metric or per model): callers only ever ask this function.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchThreshold:
    metric: str  # "cosine" | "weighted": the distance the threshold applies to
    max_distance: float
    source: str  # where it came from (the config file), for the report


def match_threshold(config_path: str | Path | None = None) -> MatchThreshold:
    """The threshold of the kiosk's configuration (--config, $KIOSK_CONFIG, /etc/move-mirror/
    kiosk.yaml, the checkout's config/kiosk.yaml: the same file `kiosk run` reads)."""
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import load_config

    path = default_config_path(config_path)
    config = load_config(path if path.is_file() or config_path else None)  # a named file must exist
    return MatchThreshold(config.index.metric, float(config.match.max_distance),
                          str(path) if path.is_file() else "the built-in defaults")
