"""`kiosk reload`: make the running kiosk reload and wait for the outcome (the unit's ExecReload=).

systemd 252 (bookworm) cannot wait for a Type=notify service's RELOADING=1 -> READY=1 cycle by
itself, so the unit runs `kiosk reload --pid $MAINPID`: it reads `reload_generation` from the
status file, sends SIGHUP, and waits until the kiosk writes the next generation with its
`reload_outcome`. `systemctl reload move-mirror` so returns only when the reload is over, and fails
when the kiosk refused it (the reason is in the journal and in `kiosk status`'s last_error).

Exit codes: 0 applied; 1 refused, or no answer (the kiosk died, timed out, or no status to watch).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.core.enums import ExitCode

HELP = "reload the running kiosk (SIGHUP) and wait for the outcome; non-zero when refused"

#: Refused and no answer (died, timed out, no status) both fail the reload; the message tells which.
EXIT_APPLIED, EXIT_REFUSED, EXIT_NO_ANSWER = ExitCode.OK, ExitCode.FAILURE, ExitCode.FAILURE
POLL_S = 0.1

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pid", type=int, default=None,
                        help="the kiosk's process id (ExecReload= passes $MAINPID; default: the "
                        "status's pid)")
    parser.add_argument("--status-file", metavar="PATH", help="the status file (default: status.path "
                        "from the config, else <runtime dir>/status.json)")
    parser.add_argument("--config", metavar="FILE", help="configuration to take status.path from")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=100.0,
                        help="give up after this long (default 100; below the unit's TimeoutStartSec=)")
    parser.set_defaults(func=run)


def status_candidates(args: argparse.Namespace) -> list[Path]:
    """Where the running kiosk's status may be: --status-file; else the config's status.path and
    the default (<runtime dir>/status.json), the latter for a config broken since the kiosk started
    (the reload to refuse): `wait_for_reload` only trusts a file that names the kiosk's pid."""
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import ConfigError, KioskConfig, load_config

    if args.status_file:
        return [Path(args.status_file)]
    found = []
    path = default_config_path(args.config)
    try:
        if path.is_file():
            found.append(load_config(path).status_path())
    except ConfigError as exc:
        log.warning("%s: looking for the status file in the default place", exc)
    default = KioskConfig().status_path()
    return [*found, default] if default not in found else found


def choose_status_file(candidates: list[Path], pid: int | None) -> Path:
    """The first candidate whose status is about `pid` (any pid when None), else the first."""
    from kiosk.app.service.status import StatusError, read_status

    for path in candidates:
        try:
            if pid is None or read_status(path).get("pid") == pid:
                return path
        except StatusError:
            continue
    return candidates[0]


def _generation(data: dict[str, Any]) -> int:
    value = data.get("reload_generation", 0)
    return value if isinstance(value, int) else 0


def wait_for_reload(status_path: Path, pid: int | None, timeout: float, *,
                    send: Callable[[int, int], None] = os.kill,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[ExitCode, str]:
    """SIGHUP the kiosk and wait for its next reload outcome: (exit code, message)."""
    from kiosk.app.service.status import StatusError, pid_alive, read_status
    from kiosk.core.enums import ReloadOutcome

    try:
        before = read_status(status_path)
    except StatusError as exc:
        return EXIT_NO_ANSWER, f"cannot reload: {exc}"
    pid = pid if pid is not None else before.get("pid")
    if not isinstance(pid, int) or before.get("pid") != pid:
        return EXIT_NO_ANSWER, (f"cannot reload: the status file {status_path} is of process "
                                f"{before.get('pid')}, not of the kiosk {pid}; is status.path right?")
    generation = _generation(before)
    send(pid, signal.SIGHUP)
    deadline = clock() + timeout
    while clock() < deadline:
        sleep(POLL_S)
        try:
            now = read_status(status_path)
        except StatusError:
            now = before  # between writes, or being replaced: look again
        if _generation(now) > generation:
            if now.get("reload_outcome") == ReloadOutcome.APPLIED:
                return EXIT_APPLIED, f"reload applied: index {now.get('index_id')}, state {now.get('state')}"
            return EXIT_REFUSED, f"reload refused: {now.get('last_error') or 'no reason recorded'}"
        if not pid_alive(pid):
            return EXIT_NO_ANSWER, (f"the kiosk (pid {pid}) died during the reload; journalctl -u "
                                    "move-mirror -p err says why")
    return EXIT_NO_ANSWER, (f"no reload outcome from the kiosk (pid {pid}) within {timeout:g} s; "
                            "it may be stalled (journalctl -u move-mirror)")


def run(args: argparse.Namespace) -> int:
    status_path = choose_status_file(status_candidates(args), args.pid)
    code, message = wait_for_reload(status_path, args.pid, args.timeout)
    if code == EXIT_APPLIED:
        log.info("%s", message)
    else:
        log.error("%s", message)
    return code
