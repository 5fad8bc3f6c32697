"""Calibration of an index's distances, and the kiosk's match threshold.

`compute_calibration` runs at build time (stored as manifest["calibration"]); an index built
before calibration existed (format_version 1) is calibrated when opened. `kiosk_threshold`
is THE function that turns the kiosk's config (match.max_distance and
match.hysteresis_margin, calibrated units, see kiosk.match.calibration) into raw distances
for one index and metric: the kiosk, the benchmark and the curator's contact sheets use it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.match.calibration import (
    CALIBRATION_VERSION,
    DEFAULT_SAMPLE,
    from_unit,
    nn_other_source,
    quantile_table,
    sample_rows,
    to_unit,
)
from kiosk.match.distance import query_weights
from kiosk.match.metrics import COSINE, PROFILE_METRICS, TRIMMED, VISIBLE, WEIGHTED, check_metric
from kiosk.match.trimmed import RERANK, TRIMMED_VERSION, trimmed_to
from kiosk.match.visible import PROFILES, Profile, nearest_stored

log = logging.getLogger(__name__)


def _table(dist_fn: Any, n: int, groups: np.ndarray, sample: int, seed: int) -> list[float] | None:
    if n < 2 or len(np.unique(groups)) < 2:
        return None
    nn = nn_other_source(dist_fn, sample_rows(n, sample, seed), groups)
    return quantile_table(nn) if np.isfinite(nn).any() else None


def profile_table(keypoints: np.ndarray, groups: np.ndarray, profile: Profile,
                  sample: int = DEFAULT_SAMPLE, seed: int = 0, metric: str = VISIBLE
                  ) -> list[float] | None:
    """The calibration table of one profile (stored or dynamic) under a profile metric
    (visible, trimmed), or None (too few). An entry's nearest neighbour is sought as the kiosk
    seeks it: trimmed re-ranks the RERANK visible nearest of other sources."""
    from kiosk.gallery.visible_index import profile_rows

    g = np.asarray(groups)
    if len(np.unique(g)) < 2:
        g = np.arange(len(g))
    ids, pv = profile_rows(keypoints, profile)
    pv64 = pv.astype(np.float64)
    gi = g[ids]

    def visible(i: int) -> np.ndarray:
        return np.linalg.norm(pv64 - pv64[i], axis=1)

    def trimmed(i: int) -> np.ndarray:
        d = np.where(gi == gi[i], np.inf, visible(i))
        near = np.argpartition(d, RERANK)[:RERANK] if len(d) > RERANK else np.arange(len(d))
        near = near[np.isfinite(d[near])]
        out = np.full(len(d), np.inf)
        out[near] = trimmed_to(keypoints[ids[i], :, :2], keypoints, ids[near], profile)
        return out

    return _table(trimmed if metric == TRIMMED else visible, len(ids), gi, sample, seed)


#: (metric, profile): a dynamic profile, or a stored one an index has no current table for
_Key = tuple[str, Profile]


class DynamicTables:
    """The calibration tables of dynamic profiles of one archive (per profile metric), each
    computed once.

    A table takes seconds on a large archive (about 3 s at 80,000 entries here, more on a Pi):
    `get(profile, wait=False)` (the kiosk's pose worker) computes it on a background thread and
    answers None until it is ready, so the matcher uses the nearest stored profile's table
    meanwhile instead of stalling the mirror; `wait=True` (offline tools, benchmarks) computes it
    in the caller, so their figures never depend on timing. One background thread at a time.
    """

    def __init__(self, keypoints: Callable[[], np.ndarray], groups: Callable[[], np.ndarray]) -> None:
        self._keypoints, self._groups = keypoints, groups
        self._tables: dict[_Key, list[float] | None] = {}
        self._pending: list[_Key] = []
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def get(self, profile: Profile, *, wait: bool = True,
            metric: str = VISIBLE) -> list[float] | None:
        key = (str(metric), profile)
        with self._lock:
            if key in self._tables:
                return self._tables[key]
            if not wait:
                if key not in self._pending:
                    self._pending.append(key)
                if self._worker is None:
                    self._worker = threading.Thread(target=self._drain, args=(self._keypoints(),),
                                                    name="calibration", daemon=True)
                    self._worker.start()
                return None
        return self._compute(key, self._keypoints())

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background thread, if one runs (tests; an orderly close)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _compute(self, key: _Key, keypoints: np.ndarray) -> list[float] | None:
        metric, profile = key
        table = profile_table(keypoints, self._groups(), profile, metric=metric)
        with self._lock:
            self._tables[key] = table
        return table

    def _drain(self, keypoints: np.ndarray) -> None:
        """The background thread: compute every pending profile's table, then end."""
        while True:
            with self._lock:
                pending = [p for p in self._pending if p not in self._tables]
                self._pending.clear()
                if not pending:
                    self._worker = None
                    return
            for key in pending:
                try:
                    self._compute(key, keypoints)
                except Exception:  # a table is an aid: the stored profile's stays in use
                    log.exception("calibrating the %s profile %s failed", *key)
                    with self._lock:
                        self._tables[key] = None


def profile_tables(keypoints: np.ndarray, groups: np.ndarray, metric: str,
                   sample: int = DEFAULT_SAMPLE, seed: int = 0) -> dict[str, list[float]]:
    """stored profile name -> table under a profile metric (profiles too few entries show: none)."""
    out: dict[str, list[float]] = {}
    for name in PROFILES:
        t = profile_table(keypoints, groups, name, sample, seed, metric)
        if t is not None:
            out[name] = t
    return out


def compute_calibration(vectors: np.ndarray, confidences: np.ndarray, keypoints: np.ndarray,
                        groups: np.ndarray, sample: int = DEFAULT_SAMPLE, seed: int = 0
                        ) -> dict[str, Any]:
    """The manifest's "calibration" block for an archive.

    vectors (N, 34) Move Mirror vectors, confidences (N, 17), keypoints (N, 17, 3) (x, y,
    score), groups (N,) source ids (an entry's nearest neighbour is sought in other groups;
    an archive of one source, e.g. a single video, is calibrated entry against entry).
    """
    v = np.asarray(vectors, dtype=np.float64)
    c = np.asarray(confidences, dtype=np.float64)
    g = np.asarray(groups)
    if len(np.unique(g)) < 2:
        g = np.arange(len(g))
    w = query_weights(c)
    tables: dict[str, Any] = {
        COSINE: _table(lambda i: np.linalg.norm(v - v[i], axis=1), len(v), g, sample, seed),
        WEIGHTED: _table(lambda i: (np.abs(v - v[i]) * w[i]).sum(axis=1), len(v), g, sample, seed),
    }
    for metric in PROFILE_METRICS:
        tables[metric] = profile_tables(keypoints, g, metric, sample, seed)
    return {"version": CALIBRATION_VERSION, "sample": int(sample), "seed": int(seed),
            "tables": tables, "distances": dict(DISTANCE_VERSIONS)}


#: The distances whose definition may change under a stored table: metric -> its version.
DISTANCE_VERSIONS: dict[str, str] = {TRIMMED: TRIMMED_VERSION}


def stale_tables(calibration: dict[str, Any], metric: str) -> bool:
    """A profile metric's tables are missing from a calibration block, or were computed for
    another version of its distance (an index built before trimmed, or before it changed)."""
    if metric not in DISTANCE_VERSIONS or not calibration:
        return False
    stored = (calibration.get("distances") or {}).get(metric)
    return metric not in (calibration.get("tables") or {}) or stored != DISTANCE_VERSIONS[metric]


@dataclass(frozen=True)
class MatchThreshold:
    """The kiosk's thresholds for one index and metric.

    max_distance, hysteresis_margin: calibrated units (the config's values).
    tables: metric or visible profile -> the 101-percentile table of raw distances.
    """

    metric: str
    max_distance: float
    hysteresis_margin: float
    tables: dict[str, list[float]] = field(repr=False)
    #: a profile's table computed by the index on first use (a dynamic profile, or a stored one
    #: whose stored table is stale), or None until ready; None: no such computation
    dynamic: Callable[[Profile], list[float] | None] | None = field(default=None, repr=False)
    #: the tables that stand in while a stale metric's are computed (visible's: trimmed <= visible)
    stand_in: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def _table(self, profile: Profile | None) -> list[float] | None:
        if self.metric not in PROFILE_METRICS:
            return self.tables.get(self.metric)
        if isinstance(profile, tuple) and self.dynamic is not None:
            t = self.dynamic(profile)
            if t is not None:
                return t
        name = nearest_stored(profile or "full")
        if not self.stand_in:
            return self.tables.get(name) or self.tables.get("full")
        t = self.dynamic(name) if self.dynamic is not None else None
        return t or self.stand_in.get(name) or self.stand_in.get("full")

    def to_unit(self, distance: float, profile: Profile | None = None) -> float:
        """A raw distance of this metric (and visible profile) in calibrated units."""
        t = self._table(profile)
        return float(distance) if t is None else float(to_unit(distance, t))

    def raw_max_distance(self, profile: Profile | None = None) -> float:
        """match.max_distance as a raw distance of this metric (the line on contact sheets)."""
        t = self._table(profile)
        return self.max_distance if t is None else from_unit(self.max_distance, t)


def calibration_tables(calibration: dict[str, Any], metric: str) -> dict[str, list[float]]:
    """metric (or visible profile) -> table, from a calibration block ({} if none)."""
    tables = (calibration or {}).get("tables") or {}
    t = tables.get(metric)
    if metric in PROFILE_METRICS:
        return dict(t or {})
    return {metric: t} if t else {}


def kiosk_threshold(index: Any, metric: str, max_distance: float,
                    hysteresis_margin: float, *, wait_for_tables: bool = True) -> MatchThreshold:
    """The kiosk's threshold for an index (a GalleryIndex) under the config's match values.

    Example: ``kiosk_threshold(idx, cfg.index.metric, cfg.match.max_distance,
    cfg.match.hysteresis_margin).raw_max_distance()``. An uncalibrated index (no tables)
    gets thresholds taken as raw distances, with a warning. wait_for_tables=False (the running
    kiosk): a dynamic profile's table is computed in the background (DynamicTables), and so is
    each profile's table of a metric the index was built before (stale_tables: an index built
    before trimmed), `visible`'s table standing in until it is ready; wait_for_tables=True
    (offline tools) computes them in the caller, a profile at a time as used.
    """
    check_metric(metric)
    calibration = index.calibration()
    stale = stale_tables(calibration, metric)
    tables = {} if stale else calibration_tables(calibration, metric)
    stand_in = calibration_tables(calibration, VISIBLE) if stale else {}
    if stale:
        log.info("index %s was built before this version of the %s metric: its calibration is "
                 "computed %s (a rebuild stores it)", index.index_id, metric,
                 "now" if wait_for_tables else "in the background, visible's standing in")
    elif not tables:
        log.info("index %s has no %s calibration: match.max_distance used as a raw distance",
                 index.index_id, metric)

    def dynamic(profile: Profile) -> list[float] | None:
        return index.profile_table(profile, wait=wait_for_tables, metric=metric)

    return MatchThreshold(metric, float(max_distance), float(hysteresis_margin), tables,
                          dynamic if metric in PROFILE_METRICS else None, stand_in)


def matching_extras(root: Path) -> dict[str, Any]:
    """For a build directory holding keypoints/entries/vectors/confidences: write the visible
    metric's profile trees and return the manifest's "visible" and "calibration" blocks."""
    from kiosk.gallery import manifest as mf
    from kiosk.gallery.visible_index import write_visible
    from kiosk.match.visible import ENTRY_MIN_SCORE, VISIBLE_MIN_SCORE, VISIBLE_VERSION

    kp = np.load(root / mf.KEYPOINTS)
    entries = json.loads((root / mf.ENTRIES).read_text())["entries"]
    groups = np.asarray([e["source"] for e in entries], dtype=np.int64)
    counts = write_visible(root, kp) if len(kp) else {}
    calibration = compute_calibration(np.load(root / mf.VECTORS), np.load(root / mf.CONFIDENCES),
                                      kp, groups)
    return {"visible": {"version": VISIBLE_VERSION, "min_score": VISIBLE_MIN_SCORE,
                        "entry_min_score": ENTRY_MIN_SCORE, "profiles": counts},
            "calibration": calibration}
