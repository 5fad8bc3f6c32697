"""Opening hours with a fake clock: the hours table, the next opening, the gate switching the
display power once per change, the real adapters against stand-in tools, and the service pausing
inference while closed and waking at opening."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kiosk.app.service.config import ConfigError, parse_config
from kiosk.app.service.schedule import (
    BlackScreen,
    OpeningHours,
    ScheduleGate,
    VcgencmdPower,
    WlrRandrPower,
    next_opening,
    open_power,
)
from tests.app.service.test_service import Harness, make_release, point_current

SECTION = {"enabled": True, "mon": "09:00-12:00, 13:00-18:00", "tue": "09:00-18:00", "wed": "",
           "thu": "09:00-18:00", "fri": "09:00-18:00", "sat": "10:00-24:00", "sun": "",
           "closed": "2026-12-25, 2027-01-01"}


@pytest.fixture()
def hours() -> OpeningHours:
    return OpeningHours.from_config(parse_config({"schedule": SECTION}).schedule)


@pytest.mark.parametrize(("when", "is_open"), [
    ("2026-11-30 08:59", False),   # Monday, before opening
    ("2026-11-30 09:00", True),
    ("2026-11-30 12:30", False),   # lunch
    ("2026-11-30 17:59", True),
    ("2026-11-30 18:00", False),   # the end is exclusive
    ("2026-12-02 10:00", False),   # Wednesday: closed all day
    ("2026-12-05 23:59", True),    # Saturday until midnight
    ("2026-12-06 12:00", False),   # Sunday
    ("2026-12-25 10:00", False),   # a closed date (a Friday)
])
def test_hours(hours: OpeningHours, when: str, is_open: bool) -> None:
    assert hours.is_open(datetime.fromisoformat(when)) is is_open


def test_next_opening_skips_closed_days(hours: OpeningHours) -> None:
    assert next_opening(hours, datetime(2026, 12, 6, 0, 30)) == datetime(2026, 12, 7, 9, 0)
    assert next_opening(hours, datetime(2026, 11, 30, 12, 30)) == datetime(2026, 11, 30, 13, 0)
    assert next_opening(hours, datetime(2026, 12, 24, 18, 30)) == datetime(2026, 12, 26, 10, 0)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("mon", "9-5", "schedule.mon"), ("tue", "18:00-09:00", "ends before it starts"),
    ("closed", "2026-13-01", "schedule.closed"), ("power", "hdmi", "schedule.power"),
])
def test_bad_schedule_is_refused_with_its_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"schedule": {key: value}})


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class RecordingPower:
    name = "recording"

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def set_on(self, on: bool) -> None:
        self.calls.append(on)


def test_gate_switches_power_once_per_change(hours: OpeningHours) -> None:
    clock, power = Clock(datetime(2026, 11, 30, 8, 0)), RecordingPower()
    gate = ScheduleGate(hours, power, clock)
    seen = []
    for _ in range(12 * 60):  # Monday 08:00 to 20:00, minute by minute
        seen.append(gate.open_now())
        clock.now += timedelta(minutes=1)
    assert power.calls == [False, True, False, True, False]  # closed, 9:00, 12:00, 13:00, 18:00
    assert sum(seen) == 8 * 60


def _tool(tmp_path: Path, name: str, body: str) -> Path:
    exe = tmp_path / name
    exe.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / (name + '.log')}\n{body}\n")
    exe.chmod(0o755)
    return exe


def test_real_adapters_run_the_tools(tmp_path: Path) -> None:
    vc = _tool(tmp_path, "vcgencmd", "")
    VcgencmdPower(str(vc)).set_on(False)
    VcgencmdPower(str(vc)).set_on(True)
    assert (tmp_path / "vcgencmd.log").read_text().split("\n")[:2] == ["display_power 0", "display_power 1"]
    listing = 'printf "HDMI-A-1 \\"Dell\\"\\n  Enabled: yes\\n"'
    wlr = _tool(tmp_path, "wlr-randr", f"if [ $# -eq 0 ]; then {listing}; fi")
    WlrRandrPower(str(wlr)).set_on(False)
    assert "--output HDMI-A-1 --off" in (tmp_path / "wlr-randr.log").read_text()
    found = {"vcgencmd": str(vc)}
    assert isinstance(open_power("auto", which=found.get), VcgencmdPower)
    assert isinstance(open_power("auto", which={"wlr-randr": str(wlr)}.get, wayland=True), WlrRandrPower)
    assert isinstance(open_power("auto", which=lambda _: None), BlackScreen)
    assert isinstance(open_power("vcgencmd", which=lambda _: None), BlackScreen)


def test_service_pauses_inference_while_closed_and_wakes(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.app.devices.display.base import MemoryDisplay

    h = Harness(tmp_path, monkeypatch)
    point_current(h.root, make_release(h.root, "idx-a"))
    clock, power = Clock(datetime(2026, 11, 30, 8, 58)), RecordingPower()
    hours = OpeningHours.from_config(parse_config({"schedule": SECTION}).schedule)
    states: list[tuple[int, str]] = []
    service = h.service(max_frames=30)

    def gate(config: object) -> ScheduleGate:
        return ScheduleGate(hours, power, clock)

    service.factories.make_schedule = gate
    service.factories.open_display = lambda config, headless: MemoryDisplay((64, 36))
    real_sleep_closed = service._closed

    def closed_then_advance() -> None:  # each closed iteration: 30 s pass on the fake clock
        real_sleep_closed()
        states.append((h.loops[0].frames if h.loops else 0, service.status.state))
        clock.now += timedelta(seconds=30)

    monkeypatch.setattr(service, "_closed", closed_then_advance)
    monkeypatch.setattr("kiosk.app.service.service.time.sleep", lambda s: None)
    assert service.run() == 0
    assert power.calls == [False, True]  # powered down at start (08:58), woken at 09:00
    assert all(frames == 0 and state == "closed" for frames, state in states)  # no inference
    assert len(states) == 4  # 08:58:00 .. 08:59:30, then 09:00 opens
    assert h.loops[0].frames == 30
    assert h.loops[0].paused == [True, False]  # the pose worker paused while closed, resumed at 09:00
    h.notify.close()
