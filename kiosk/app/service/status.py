"""The kiosk's status file: a small JSON document for `kiosk status` and deploy health checks.

Written atomically (a temporary file in the same directory, then os.replace), so a reader
never sees half a file. Fields:

    state        starting | running | idle | degraded | stopping (kiosk.core.enums.ServiceState)
    index_id     id of the loaded gallery index (null when none is loaded)
    index_path   the index directory as opened (the `current` symlink resolved)
    model        pose model name; delegate: cpu | edgetpu (the one actually in use)
    index_model  the pose model the index was built with (its manifest names it)
    model_mismatch  why model and index_model do not fit, and the fix (null when they do)
    fps          frames per second presented on the screen
    pose_rate    pose estimates per second (the model's rate, apart from the display's)
    shown        what is on screen: entryN, "entryN (fading in)", or the state (no_match, ...)
    stalled      stages of the loop (camera, pose, render) that made no progress for a watchdog
                 interval: the watchdog is not pinged while this is not empty
    deployed_config  sha256 of the config deployed with the current release (`kiosk deploy
                 --config`) that is in force over the kiosk's own file; null when none
    last_error   the last problem worth knowing (a refused reload, a missing index), or null
    pid          the kiosk's process id
    reload_generation  how many reloads (SIGHUP) this process has finished; 0 before the first
    reload_outcome     applied | refused (kiosk.core.enums.ReloadOutcome): how the last finished
                       reload ended, null before one (`kiosk reload`, the unit's ExecReload=, waits
                       on these two)
    updated / updated_unix, started / started_unix   ISO-8601 UTC and unix seconds
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.core.enums import ReloadOutcome, ServiceState
from kiosk.core.safefile import FileRefused, read_bytes

log = logging.getLogger(__name__)

#: A status file is a few hundred bytes; anything bigger is not one.
STATUS_LIMIT = 1 << 16

__all__ = ["KioskStatus", "StatusError", "pid_alive", "read_status", "write_status"]


class StatusError(RuntimeError):
    """The status file is missing or unreadable."""


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class KioskStatus:
    state: ServiceState = ServiceState.STARTING
    index_id: str | None = None
    index_path: str | None = None
    model: str | None = None
    delegate: str | None = None
    index_model: str | None = None
    model_mismatch: str | None = None
    fps: float = 0.0
    pose_rate: float = 0.0
    shown: str | None = None
    stalled: list[str] = field(default_factory=list)
    frames: int = 0
    last_error: str | None = None
    config_path: str | None = None
    deployed_config: str | None = None
    source: str | None = None
    reload_generation: int = 0
    reload_outcome: ReloadOutcome | None = None
    pid: int = field(default_factory=os.getpid)
    started_unix: float = field(default_factory=time.time)
    updated_unix: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = str(self.state)
        data["reload_outcome"] = None if self.reload_outcome is None else str(self.reload_outcome)
        data["fps"] = round(float(self.fps), 2)
        data["pose_rate"] = round(float(self.pose_rate), 2)
        data["started"] = _iso(self.started_unix)
        data["updated"] = _iso(self.updated_unix)
        return data


def write_status(path: Path, status: KioskStatus) -> None:
    """Stamp `updated` and write the file atomically (creating its directory)."""
    status.updated_unix = time.time()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(status.to_dict(), indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".status-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_status(path: Path) -> dict[str, Any]:
    """The status file as a dict; raises StatusError when missing or not valid JSON."""
    try:
        text = read_bytes(Path(path), max_bytes=STATUS_LIMIT).decode("utf-8")
    except FileNotFoundError as exc:
        raise StatusError(f"no status file at {path}: is the kiosk running (systemctl status "
                          "move-mirror)? Use --status-file or --config to point elsewhere") from exc
    except (OSError, FileRefused, UnicodeDecodeError) as exc:
        raise StatusError(f"cannot read the status file {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StatusError(f"the status file {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise StatusError(f"the status file {path} does not hold a JSON object")
    return data


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (and is not a zombie, where /proc tells)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user (e.g. the `mirror` service user)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
