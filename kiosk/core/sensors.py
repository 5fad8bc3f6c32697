"""Board health: SoC temperature and firmware throttling (Raspberry Pi), behind a small Protocol.

`SysSensors` reads /sys/class/thermal and runs `vcgencmd get_throttled` where present;
`FixedSensors` is its twin for tests and machines without either. Missing readings are None.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

#: bits of `vcgencmd get_throttled` (Raspberry Pi firmware), now and since boot
THROTTLE_BITS = {
    0: "under-voltage", 1: "arm frequency capped", 2: "throttled", 3: "soft temperature limit",
    16: "under-voltage occurred", 17: "arm frequency capping occurred", 18: "throttling occurred",
    19: "soft temperature limit occurred",
}


@dataclass(frozen=True)
class Throttling:
    raw: int

    @property
    def now(self) -> bool:
        return bool(self.raw & 0xF)

    @property
    def flags(self) -> list[str]:
        return [name for bit, name in THROTTLE_BITS.items() if self.raw >> bit & 1]


class Sensors(Protocol):
    def temperature_c(self) -> float | None: ...

    def throttling(self) -> Throttling | None: ...


def parse_throttled(text: str) -> Throttling | None:
    """`throttled=0x50005` -> Throttling(0x50005); None when not that shape."""
    _, _, value = text.strip().partition("=")
    try:
        return Throttling(int(value, 16))
    except ValueError:
        return None


class SysSensors:
    def __init__(self, thermal: Path = Path("/sys/class/thermal"), vcgencmd: str | None = None) -> None:
        self.thermal = thermal
        self.vcgencmd = vcgencmd or shutil.which("vcgencmd")

    def temperature_c(self) -> float | None:
        """The CPU zone (type *cpu*/*soc*), else the first zone; millidegrees in the file."""
        zones = sorted(self.thermal.glob("thermal_zone*"))
        for zone in sorted(zones, key=lambda z: not any(
                k in _read(z / "type").lower() for k in ("cpu", "soc"))):
            text = _read(zone / "temp")
            try:
                return int(text) / 1000.0
            except ValueError:
                continue
        return None

    def throttling(self) -> Throttling | None:
        if not self.vcgencmd:
            return None
        try:
            proc = subprocess.run([self.vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("vcgencmd get_throttled failed: %s", exc)
            return None
        return parse_throttled(proc.stdout) if proc.returncode == 0 else None


@dataclass
class FixedSensors:
    temp: float | None = None
    throttled: Throttling | None = None

    def temperature_c(self) -> float | None:
        return self.temp

    def throttling(self) -> Throttling | None:
        return self.throttled


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
