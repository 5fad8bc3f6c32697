"""SysSensors on a /sys/class/thermal tree and a vcgencmd of the same shape as the Pi's."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.core.sensors import SysSensors, parse_throttled


def _zone(root: Path, n: int, kind: str, millideg: str) -> None:
    z = root / f"thermal_zone{n}"
    z.mkdir(parents=True)
    (z / "type").write_text(kind + "\n")
    (z / "temp").write_text(millideg + "\n")


def test_cpu_zone_temperature_and_throttling(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "acpitz", "30000")
    _zone(tmp_path, 1, "cpu-thermal", "71234")
    vc = tmp_path / "vcgencmd"
    vc.write_text('#!/bin/sh\n[ "$1" = get_throttled ] && echo "throttled=0x50005"\n')
    vc.chmod(0o755)
    s = SysSensors(thermal=tmp_path, vcgencmd=str(vc))
    assert s.temperature_c() == pytest.approx(71.234)
    t = s.throttling()
    assert t is not None and t.now and "under-voltage" in t.flags and "throttling occurred" in t.flags


def test_missing_sensors_are_none(tmp_path: Path) -> None:
    s = SysSensors(thermal=tmp_path / "none", vcgencmd=None)
    s.vcgencmd = None
    assert s.temperature_c() is None and s.throttling() is None


@pytest.mark.parametrize(("text", "raw"), [("throttled=0x0", 0), ("throttled=0x80008\n", 0x80008),
                                          ("garbage", None)])
def test_parse_throttled(text: str, raw: int | None) -> None:
    got = parse_throttled(text)
    assert (got.raw if got else None) == raw
