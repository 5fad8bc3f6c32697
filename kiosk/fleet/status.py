"""`kiosk fleet status`: one record per kiosk, gathered on the kiosk (`--local`) and collected over
ssh from the workstation.

On the kiosk: the status file (`kiosk status`), the board's sensors (temperature, throttling),
the system uptime and the release root (current, pending activation, last deploy).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.core.sensors import Sensors
from kiosk.gallery.releases import ReleaseRoot

#: columns of the table: (key, heading)
COLUMNS = (("host", "HOST"), ("index_id", "INDEX"), ("config", "CONFIG"), ("model", "MODEL"),
           ("delegate", "DELEGATE"), ("state", "STATE"), ("fps", "FPS"), ("pose_rate", "POSE/S"),
           ("temperature_c", "TEMP"), ("throttled", "THROTTLED"), ("uptime", "UPTIME"),
           ("last_deploy", "LAST DEPLOY"), ("last_error", "LAST ERROR"))


def _iso(unix: float | None) -> str | None:
    if not unix:
        return None
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def system_uptime(proc_uptime: Path = Path("/proc/uptime")) -> float | None:
    try:
        return float(proc_uptime.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def local_record(status: dict[str, Any], problems: list[str], root: Path, sensors: Sensors,
                 now: float | None = None) -> dict[str, Any]:
    """This kiosk's record (what `kiosk fleet status --local --json` prints): its status file
    (already read, with its problems: stale, process gone), sensors and release root."""
    now = time.time() if now is None else now
    record: dict[str, Any] = {"ok": not problems, "problems": list(problems)}
    for key in ("index_id", "model", "delegate", "state", "fps", "pose_rate", "last_error", "pid"):
        record[key] = status.get(key)
    record["config"] = status.get("deployed_config")  # sha256 of the deployed config in force
    started = status.get("started_unix")
    record["kiosk_uptime_s"] = round(now - started) if isinstance(started, int | float) else None
    record["uptime_s"] = system_uptime()
    record["temperature_c"] = sensors.temperature_c()
    throttling = sensors.throttling()
    record["throttled"] = None if throttling is None else {"raw": hex(throttling.raw), "now": throttling.now,
                                                           "flags": throttling.flags}
    rel = ReleaseRoot(root)
    pending = rel.pending()
    record["current"] = rel.current_id()
    record["pending_activation"] = pending.release if pending else None
    last = (root / "current").lstat().st_mtime if (root / "current").is_symlink() else None
    record["last_deploy"] = _iso(last)
    record["ok"] = not record["problems"]
    return record


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    s = int(seconds)
    return f"{s // 86400}d{s % 86400 // 3600}h" if s >= 86400 else f"{s // 3600}h{s % 3600 // 60:02d}m"


def cell(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if key == "uptime":
        return _duration(record.get("kiosk_uptime_s"))
    if key == "temperature_c":
        return "-" if value is None else f"{value:.0f}C"
    if key == "throttled":
        return "-" if value is None else (",".join(value["flags"]) or "no")
    if key == "config":
        return "-" if value is None else str(value)[:12]
    if key in ("fps", "pose_rate"):
        return "-" if value is None else f"{float(value):.1f}"
    if key == "last_error" and record.get("problems") and not value:
        return "; ".join(record["problems"])[:80]
    return "-" if value is None else str(value)[:80]


def table(records: list[dict[str, Any]]) -> str:
    rows = [[heading for _, heading in COLUMNS]] + [[cell(r, k) for k, _ in COLUMNS] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def collect(hosts: list[str], fetch: Callable[[str], dict[str, Any]], parallel: int) -> list[dict[str, Any]]:
    """fetch(host) for every host, at most `parallel` at once; errors become records."""
    out: list[dict[str, Any]] = [{} for _ in hosts]
    gate = threading.Semaphore(parallel)

    def one(i: int) -> None:
        with gate:
            try:
                out[i] = {"host": hosts[i], **fetch(hosts[i])}
            except Exception as exc:  # one host's failure is its record, never the others'
                out[i] = {"host": hosts[i], "ok": False, "state": "unreachable", "problems": [str(exc)],
                          "last_error": str(exc)}

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(hosts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def parse_record(text: str) -> dict[str, Any]:
    from kiosk.fleet.remote import parse_json_out

    data = parse_json_out(text)
    if data is None:
        raise ValueError(f"no JSON from `kiosk fleet status --local`: {text.strip()[-200:] or 'nothing'}")
    return data


__all__ = ["COLUMNS", "collect", "local_record", "parse_record", "table"]
