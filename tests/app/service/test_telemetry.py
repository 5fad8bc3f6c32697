"""Prometheus textfile metrics: the rendering with a fake clock and fixed sensors, and a real
`kiosk run` (replayed squats, a real index) writing the file; both parsed with prometheus_client."""

from __future__ import annotations

import math
import signal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kiosk.app.service.telemetry import Snapshot, Telemetry
from kiosk.core.sensors import FixedSensors, Throttling


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_from_frames_with_a_fake_clock(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "textfile" / "move-mirror.prom"
    t = Telemetry(path, 15, FixedSensors(61.5, Throttling(0x50005)), clock=clock)
    # idle 10 s, a visitor 5 s (running 3, no_match 2), idle 4 s, a second visitor
    for state, seconds, distance in (("idle", 10, None), ("running", 3, 0.1), ("no_match", 2, 0.5),
                                     ("idle", 4, None), ("running", 1, 0.2)):
        t.on_frame(state, distance)
        clock.t += seconds
    t.on_reload()
    snap = Snapshot(state="running", index_id='id"1', model="movenet-lightning", delegate="cpu", fps=29.5,
                    pose_rate=7.5)
    assert t.maybe_write(snap) is False  # the first call starts the interval
    clock.t += 20
    assert t.maybe_write(snap) is True
    got = samples(path.read_text())
    assert got[("kiosk_up", ())] == 1
    assert got[("kiosk_display_fps", ())] == 29.5
    assert got[("kiosk_visitor_sessions_total", ())] == 2
    assert got[("kiosk_state_seconds_total", (("state", "idle"),))] == 14
    assert got[("kiosk_state_seconds_total", (("state", "running"),))] == 3
    assert got[("kiosk_state_seconds_total", (("state", "no_match"),))] == 2
    assert got[("kiosk_match_distance", (("quantile", "0.5"),))] == pytest.approx(0.2)
    assert got[("kiosk_match_distance_count", ())] == 3
    assert got[("kiosk_reloads_total", ())] == 1 and got[("kiosk_camera_failures_total", ())] == 0
    t.on_frame("running", 0.2, capture_failures=2)  # two captures failed, the kiosk went on
    t.on_camera_failure()  # then one that ended the camera
    t.maybe_write(snap, force=True)
    assert samples(path.read_text())[("kiosk_camera_failures_total", ())] == 3
    info = (("delegate", "cpu"), ("index_id", 'id"1'), ("model", "movenet-lightning"))
    assert got[("kiosk_info", info)] == 1
    assert got[("kiosk_temperature_celsius", ())] == 61.5
    assert got[("kiosk_throttled", (("flag", "under-voltage"),))] == 1
    assert got[("kiosk_pose_rate", ())] == 7.5
    assert not list(path.parent.glob(".*.tmp"))  # written by rename, no temp left


def test_no_distance_yet_is_nan_and_no_sensors_no_lines(tmp_path: Path) -> None:
    t = Telemetry(tmp_path / "m.prom", 1, FixedSensors(), clock=Clock())
    text = t.render(Snapshot("starting", None, None, None, 0.0))
    got = samples(text)
    assert math.isnan(got[("kiosk_match_distance", (("quantile", "0.9"),))])
    assert "kiosk_temperature_celsius" not in text and "kiosk_throttled" not in text


@pytest.mark.slow
def test_a_running_kiosk_writes_the_metrics_file(tmp_path: Path, shared_dir: Path, models_dir: Path) -> None:
    from tests.app.kiosk_process import KioskProcess, build_index, install_release, switch_current

    root = tmp_path / "index-root"
    index_id = build_index(shared_dir, models_dir, "a", tmp_path / "built" / "a")
    (root / "releases").mkdir(parents=True)
    switch_current(root, install_release(root, tmp_path / "built" / "a"))
    prom = tmp_path / "run" / "metrics.prom"
    k = KioskProcess(tmp_path, shared_dir, models_dir, root,
                     config=f"telemetry:\n  textfile: {prom}\n  interval_s: 0.5\n", args=("--loop",))
    try:
        k.start()
        k.wait_status(lambda s: s.get("index_id") == index_id and s.get("frames", 0) > 5, 120, "frames")

        def ready() -> dict | None:
            if not prom.exists():
                return None
            got = samples(prom.read_text())
            return got if got.get(("kiosk_pose_rate", ()), 0) > 0 else None

        from tests.scripts.kiosk_hosts import wait_until

        got = wait_until(ready, 60, "a metrics file with a pose rate")
        assert got[("kiosk_up", ())] == 1 and got[("kiosk_display_fps", ())] > 0
        info = next(k for k in got if k[0] == "kiosk_info")
        assert ("index_id", index_id) in info[1] and ("delegate", "cpu") in info[1]
        assert sum(v for (name, _), v in got.items() if name == "kiosk_state_seconds_total") > 0
        k.signal(signal.SIGHUP)
        wait_until(lambda: samples(prom.read_text()).get(("kiosk_reloads_total", ()), 0) == 1, 60,
                   "the reload to be counted")
    finally:
        k.kill()
