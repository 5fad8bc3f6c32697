"""Prometheus metrics in a text file for node_exporter's textfile collector: no port is opened.

The service feeds `Telemetry` from what it already has (each frame's state, match distance and
stage timings, reloads, camera failures, its status) and calls `maybe_write()` after each step;
every `telemetry.interval_s` the whole file is rewritten atomically (temp file + rename in the
same directory, as node_exporter requires). Metrics (all prefixed `kiosk_`):

    up 1 / info{index_id, model, delegate} 1 / state{state} 1 for the current service state
    display_fps, pose_rate (the loop's figures, as in the status file)
    match_distance{quantile="0.5|0.9|0.99"}, match_distance_sum, match_distance_count (summary)
    state_seconds_total{state}   seconds the loop spent in each of its states
    visitor_sessions_total       times a visitor appeared (idle/searching -> a pose on screen)
    camera_failures_total, reloads_total
    temperature_celsius, throttled{flag} (board sensors, when present)
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.core.sensors import Sensors

log = logging.getLogger(__name__)

QUANTILES = (0.5, 0.9, 0.99)
#: loop states in which nobody is being mirrored (a visitor session starts when one leaves them)
NOBODY_STATES = ("idle", "searching")


@dataclass(frozen=True)
class Snapshot:
    """What the metrics describe besides the counters (from the service's status)."""

    state: str
    index_id: str | None
    model: str | None
    delegate: str | None
    fps: float
    pose_rate: float = 0.0


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Telemetry:
    def __init__(self, path: Path | None, interval_s: float, sensors: Sensors,
                 clock: Callable[[], float] = time.monotonic, window: int = 2000) -> None:
        self.path = Path(path) if path is not None else None  # None: rates only, no file
        self.interval_s = interval_s
        self.sensors = sensors
        self.clock = clock
        self.state_seconds: dict[str, float] = {}
        self.distances: deque[float] = deque(maxlen=window)
        self.distance_sum = 0.0
        self.distance_count = 0
        self.sessions = 0
        self.camera_failures = 0  # failures that ended the camera (the process exits on them)
        self.capture_failures = 0  # failed captures the grabber survived (FrameReport.camera_failures)
        self.reloads = 0
        self._last_state: str | None = None
        self._last_frame: float | None = None
        self._last_write: float | None = None

    # ---- feeding ----------------------------------------------------------------------
    def on_frame(self, state: str, distance: float | None, capture_failures: int = 0) -> None:
        now = self.clock()
        self.capture_failures = max(self.capture_failures, capture_failures)
        if self._last_frame is not None and self._last_state is not None:
            self.state_seconds[self._last_state] = (self.state_seconds.get(self._last_state, 0.0)
                                                    + now - self._last_frame)
        if self._last_state in NOBODY_STATES and state not in NOBODY_STATES:
            self.sessions += 1
        self._last_state, self._last_frame = state, now
        if distance is not None and np.isfinite(distance):
            self.distances.append(float(distance))
            self.distance_sum += float(distance)
            self.distance_count += 1

    def on_reload(self) -> None:
        self.reloads += 1

    def on_camera_failure(self) -> None:
        self.camera_failures += 1

    # ---- writing ----------------------------------------------------------------------
    def maybe_write(self, snapshot: Snapshot, force: bool = False) -> bool:
        now = self.clock()
        if self._last_write is None:
            self._last_write = now
            if not force:
                return False
        elapsed = now - self._last_write
        if not force and elapsed < self.interval_s:
            return False
        self._last_write = now
        if self.path is None:
            return False
        try:
            self.write(snapshot)
        except OSError as exc:
            log.warning("cannot write the metrics file %s (%s); check telemetry.textfile", self.path, exc)
            return False
        return True

    def write(self, snapshot: Snapshot) -> None:
        assert self.path is not None
        text = self.render(snapshot)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def render(self, s: Snapshot) -> str:
        out: list[str] = []

        def metric(name: str, kind: str, help: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP kiosk_{name} {help}")
            out.append(f"# TYPE kiosk_{name} {kind}")
            for suffix_labels, value in samples:
                out.append(f"kiosk_{name}{suffix_labels} {value:.6g}")

        metric("up", "gauge", "1 while the kiosk service runs", [("", 1)])
        metric("info", "gauge", "the loaded index, model and delegate",
               [(f'{{index_id="{_label(s.index_id or "")}",model="{_label(s.model or "")}",'
                 f'delegate="{_label(s.delegate or "")}"}}', 1)])
        metric("state", "gauge", "the service state (1 for the current one)",
               [(f'{{state="{_label(s.state)}"}}', 1)])
        metric("display_fps", "gauge", "frames per second on the screen", [("", s.fps)])
        metric("pose_rate", "gauge", "poses estimated per second (last interval)",
               [("", s.pose_rate)])
        qs = np.quantile(np.fromiter(self.distances, float), QUANTILES) if self.distances else \
            [float("nan")] * len(QUANTILES)
        metric("match_distance", "summary", "distance of the shown photo to the visitor's pose",
               [(f'{{quantile="{q}"}}', float(v)) for q, v in zip(QUANTILES, qs, strict=True)])
        out.append(f"kiosk_match_distance_sum {self.distance_sum:.6g}")
        out.append(f"kiosk_match_distance_count {self.distance_count}")
        metric("state_seconds_total", "counter", "seconds the mirror loop spent in each state",
               [(f'{{state="{_label(k)}"}}', v) for k, v in sorted(self.state_seconds.items())])
        metric("visitor_sessions_total", "counter", "visitors who appeared in front of the kiosk",
               [("", self.sessions)])
        metric("camera_failures_total", "counter", "failed camera captures (those the kiosk survived, and "
               "one that ended the camera)", [("", self.capture_failures + self.camera_failures)])
        metric("reloads_total", "counter", "reloads (SIGHUP: config and index)", [("", self.reloads)])
        temp = self.sensors.temperature_c()
        if temp is not None:
            metric("temperature_celsius", "gauge", "SoC temperature", [("", temp)])
        throttling = self.sensors.throttling()
        if throttling is not None:
            metric("throttled", "gauge", "vcgencmd get_throttled bits (1 = set)",
                   [(f'{{flag="{_label(f)}"}}', 1) for f in throttling.flags] or [('{flag="none"}', 0)])
        return "\n".join(out) + "\n"


def from_config(config: object) -> Telemetry | None:
    """The service's Telemetry when `telemetry.textfile` is set, else None."""
    from kiosk.app.service.config import KioskConfig
    from kiosk.core.sensors import SysSensors

    assert isinstance(config, KioskConfig)
    if not config.telemetry.textfile:
        return None
    return Telemetry(Path(config.telemetry.textfile).expanduser(), config.telemetry.interval_s, SysSensors())


def after_step(telemetry: Telemetry | None, report: object, status: object, force: bool = False) -> None:
    """The service's one hook per step: feed the loop's FrameReport, write when due."""
    if telemetry is None:
        return
    from kiosk.app.loop import FrameReport
    from kiosk.app.service.status import KioskStatus

    if isinstance(report, FrameReport):
        telemetry.on_frame(report.state, report.distance, report.camera_failures)
    assert isinstance(status, KioskStatus)
    telemetry.maybe_write(Snapshot(state=status.state, index_id=status.index_id, model=status.model,
                                   delegate=status.delegate, fps=status.fps,
                                   pose_rate=float(status.pose_rate or 0.0)), force=force)
