"""`kiosk status`: the running kiosk's status file, as a table or JSON (deploy health check).

Exit codes: 0 fresh status from a live kiosk, 1 missing/unreadable, stale (no update for more
than --max-age seconds) or the kiosk's process is gone, 3 --expect-index given and a different
index is loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.core.enums import ExitCode

HELP = "show the running kiosk's status (state, index id, model, fps); non-zero if missing or stale"


FIELDS = ("state", "index_id", "index_path", "model", "delegate", "fps", "frames", "last_error",
          "source", "config_path", "pid", "started", "updated")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument("--status-file", metavar="PATH", help="the status file (default: status.path "
                        "from the config, else <runtime dir>/status.json)")
    parser.add_argument("--config", metavar="FILE", help="configuration to take status.path from")
    parser.add_argument("--max-age", metavar="SECONDS", type=float, default=None,
                        help="stale when not updated for this long (default: max(10, 5 x status.interval_s))")
    parser.add_argument("--expect-index", metavar="ID",
                        help="exit 3 unless this index id is the one loaded (deploy health check)")
    parser.set_defaults(func=run)


def _resolve(args: argparse.Namespace) -> tuple[Path, float]:
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import ConfigError, KioskConfig, load_config

    config = KioskConfig()
    path = default_config_path(args.config)
    if args.config or path.is_file():
        try:
            config = load_config(path)
        except ConfigError as exc:
            if args.status_file is None:
                raise SystemExit(f"kiosk status: {exc}\n(use --status-file to bypass the config)") from exc
    status_path = Path(args.status_file) if args.status_file else config.status_path()
    max_age = args.max_age if args.max_age is not None else max(10.0, 5 * config.status.interval_s)
    return status_path, max_age


def problems_of(data: dict[str, Any], max_age: float, now: float | None = None) -> list[str]:
    """Why this status is not healthy: stale, or the process gone."""
    from kiosk.app.service.status import pid_alive

    now = time.time() if now is None else now
    problems = []
    updated = data.get("updated_unix")
    if not isinstance(updated, int | float):
        problems.append("the status has no updated_unix time")
    elif now - updated > max_age:
        problems.append(f"stale: last updated {now - updated:.0f} s ago (more than {max_age:g} s)")
    pid = data.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        problems.append(f"the kiosk process {pid} is not running (systemctl status move-mirror; "
                        "journalctl -u move-mirror)")
    stalled = data.get("stalled") or []
    if stalled:
        problems.append(f"stalled: no progress from {', '.join(map(str, stalled))} (the watchdog is not "
                        "pinged; systemd restarts the kiosk)")
    return problems


def _table(data: dict[str, Any]) -> str:
    keys = [k for k in FIELDS if k in data] + sorted(k for k in data if k not in FIELDS and
                                                     not k.endswith("_unix"))
    width = max(len(k) for k in keys)
    lines = []
    for key in keys:
        value = data[key]
        text = "-" if value is None else str(value)
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from kiosk.app.service.status import StatusError, read_status

    status_path, max_age = _resolve(args)
    try:
        data = read_status(status_path)
    except StatusError as exc:
        if args.json:
            print(json.dumps({"ok": False, "problems": [str(exc)], "status_file": str(status_path)}))
        else:
            print(f"kiosk status: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    problems = problems_of(data, max_age)
    code = ExitCode.FAILURE if problems else ExitCode.OK
    if args.expect_index is not None and data.get("index_id") != args.expect_index:
        problems.append(f"index {data.get('index_id')} is loaded, not {args.expect_index}")
        code = code or ExitCode.WRONG_INDEX
    if args.json:
        print(json.dumps({**data, "ok": not problems, "problems": problems,
                          "status_file": str(status_path)}, indent=2, sort_keys=True))
    else:
        print(_table(data))
        for problem in problems:
            print(f"PROBLEM  {problem}", file=sys.stderr)
    return code
