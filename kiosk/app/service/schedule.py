"""Opening hours: outside them the display is powered down and inference paused.

`OpeningHours` answers "open at this local time?" from the `schedule` config section (hours per
weekday, closed dates). `ScheduleGate` is what the service asks before every step, with an
injected clock; on each change it switches the display's power through a `DisplayPower`:

    vcgencmd    `vcgencmd display_power 0|1` (Raspberry Pi firmware, X-less KMS too)
    wlr-randr   `wlr-randr --output NAME --off|--on` (a Wayland compositor such as labwc)
    black       nothing to switch: the service shows a black screen (the fallback, and the twin)

`auto` picks the first that is present. Waking is re-checked every step against the wall clock,
so a kiosk that was closed for a weekend opens on the minute.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
POWER_CHOICES = ("auto", "vcgencmd", "wlr-randr", "black")


# ---- parsing (also the config's checks) ---------------------------------------------------
def parse_hours(text: str) -> list[tuple[time, time]]:
    """'09:00-12:00, 13:00-18:00' -> [(09:00, 12:00), (13:00, 18:00)]; '' -> closed all day.
    An end of 24:00 means midnight; an end before its start is refused."""
    spans = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        start_s, sep, end_s = part.partition("-")
        if not sep:
            raise ValueError(f"{part!r} is not HH:MM-HH:MM")
        start = time.fromisoformat(start_s.strip())
        end = time.max if end_s.strip() == "24:00" else time.fromisoformat(end_s.strip())
        if end <= start:
            raise ValueError(f"{part!r} ends before it starts")
        spans.append((start, end))
    return spans


def parse_dates(text: str) -> set[date]:
    return {date.fromisoformat(p.strip()) for p in text.split(",") if p.strip()}


def check_hours(text: str) -> str | None:
    try:
        parse_hours(text)
    except ValueError as exc:
        return f"{exc} (use HH:MM-HH:MM, several comma separated, e.g. 09:00-12:00,13:00-18:00)"
    return None


def check_dates(text: str) -> str | None:
    try:
        parse_dates(text)
    except ValueError as exc:
        return f"{exc} (use YYYY-MM-DD, comma separated)"
    return None


# ---- the hours ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OpeningHours:
    week: tuple[tuple[tuple[time, time], ...], ...]  # Monday first
    closed: frozenset[date]

    @classmethod
    def from_config(cls, schedule: Any) -> OpeningHours:
        return cls(week=tuple(tuple(parse_hours(getattr(schedule, d))) for d in DAYS),
                   closed=frozenset(parse_dates(schedule.closed)))

    def is_open(self, when: datetime) -> bool:
        if when.date() in self.closed:
            return False
        now = when.time()
        return any(start <= now < end for start, end in self.week[when.weekday()])


# ---- display power --------------------------------------------------------------------------
class DisplayPower(Protocol):
    name: str

    def set_on(self, on: bool) -> None: ...


class BlackScreen:
    """Nothing to switch: the service draws black (the fallback)."""

    name = "black"

    def set_on(self, on: bool) -> None:
        log.info("display %s (black screen)", "on" if on else "off")


class VcgencmdPower:
    name = "vcgencmd"

    def __init__(self, exe: str = "vcgencmd") -> None:
        self.exe = exe

    def set_on(self, on: bool) -> None:
        subprocess.run([self.exe, "display_power", "1" if on else "0"], check=True, timeout=10,
                       capture_output=True)


class WlrRandrPower:
    name = "wlr-randr"

    def __init__(self, exe: str = "wlr-randr") -> None:
        self.exe = exe

    def _outputs(self) -> list[str]:
        out = subprocess.run([self.exe], check=True, timeout=10, capture_output=True, text=True).stdout
        return [line.split()[0] for line in out.splitlines() if line and not line[0].isspace()]

    def set_on(self, on: bool) -> None:
        for output in self._outputs():
            subprocess.run([self.exe, "--output", output, "--on" if on else "--off"], check=True,
                           timeout=10, capture_output=True)


def open_power(choice: str, which: Callable[[str], str | None] = shutil.which,
               wayland: bool = False) -> DisplayPower:
    """The configured adapter; `auto`: vcgencmd, else wlr-randr under Wayland, else black."""
    if choice in ("auto", "vcgencmd") and which("vcgencmd"):
        return VcgencmdPower(which("vcgencmd") or "vcgencmd")
    if choice in ("auto", "wlr-randr") and which("wlr-randr") and (wayland or choice == "wlr-randr"):
        return WlrRandrPower(which("wlr-randr") or "wlr-randr")
    if choice not in ("auto", "black"):
        log.warning("schedule.power=%s: the tool is not installed; using a black screen", choice)
    return BlackScreen()


# ---- the gate the service asks ------------------------------------------------------------
class ScheduleGate:
    """open_now() before every step: False while closed (the service then pauses inference and
    keeps the screen black). Switches the display power once per change."""

    def __init__(self, hours: OpeningHours, power: DisplayPower,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        self.hours, self.power, self.clock = hours, power, clock
        self.is_open: bool | None = None

    def open_now(self) -> bool:
        now_open = self.hours.is_open(self.clock())
        if now_open != self.is_open:
            log.info("%s: %s the display (%s)", "opening" if now_open else "closing",
                     "waking" if now_open else "powering down", self.power.name)
            try:
                self.power.set_on(now_open)
            except (OSError, subprocess.SubprocessError) as exc:
                log.warning("display power %s failed (%s); the screen stays black instead",
                            self.power.name, exc)
            self.is_open = now_open
        return now_open


def next_opening(hours: OpeningHours, after: datetime, horizon_days: int = 366) -> datetime | None:
    """The first minute at or after `after` when the kiosk is open (None within the horizon)."""
    t = after.replace(second=0, microsecond=0)
    for _ in range(horizon_days):
        day = t.date()
        if day not in hours.closed:
            for start, end in hours.week[t.weekday()]:
                candidate = datetime.combine(day, start, t.tzinfo)
                if t.time() < end:
                    return max(candidate, t)
        t = datetime.combine(day + timedelta(days=1), time(0), t.tzinfo)
    return None


def gate_from_config(config: Any, clock: Callable[[], datetime] = datetime.now) -> ScheduleGate | None:
    from kiosk.core.settings import env_str

    if not config.schedule.enabled:
        return None
    power = open_power(config.schedule.power, wayland=env_str("WAYLAND_DISPLAY") is not None)
    return ScheduleGate(OpeningHours.from_config(config.schedule), power, clock)
