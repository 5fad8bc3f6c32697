"""The kiosk's commands as seen from the workstation: `kiosk releases ...` and `kiosk status
--json` over one ssh connection, their JSON parsed into dicts."""

from __future__ import annotations

import json
import logging
import select
import shlex
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from kiosk.core.enums import ServiceState
from kiosk.fleet.ssh import Connection, ssh_error

log = logging.getLogger(__name__)

#: states in which a deploy counts the kiosk as serving (one owner: ServiceState.healthy())
HEALTHY_STATES = frozenset(s.value for s in ServiceState.healthy())


class RemoteError(RuntimeError):
    """A remote command failed; the message is the readable reason."""


class KioskMissing(RemoteError):
    """The kiosk command is not on the host (or not working)."""


@dataclass(frozen=True)
class Health:
    healthy: bool
    index_id: str | None
    summary: str  # one readable line: index, state and, when unhealthy, why
    config: str | None = None  # sha256 of the deployed config in force (status deployed_config)


def parse_json_out(text: str) -> dict[str, Any] | None:
    """The JSON object a kiosk command printed (the first '{' at a line start to the end)."""
    start = text.find("{")
    while start != -1:
        try:
            data = json.loads(text[start:])
            return data if isinstance(data, dict) else None
        except ValueError:
            start = text.find("\n{", start + 1)
            start = start + 1 if start != -1 else -1
    return None


class RemoteKiosk:
    def __init__(self, conn: Connection, kiosk_cmd: str, index_root: str | None,
                 models_dir: str | None, command_timeout: float) -> None:
        self.conn = conn
        self.kiosk_cmd = kiosk_cmd
        self.words = shlex.split(kiosk_cmd)
        self.root_args = ["--index-root", index_root] if index_root else []
        if models_dir:
            self.root_args += ["--models-dir", models_dir]
        self.command_timeout = command_timeout

    def _call(self, words: list[str], timeout: float | None = None) -> tuple[int, str, str]:
        timeout = timeout or self.conn.options.connect_timeout + 60
        proc = self.conn.run([*self.words, *words], timeout=timeout)
        if proc.returncode == 255:
            raise RemoteError(ssh_error(proc.stderr, 255))
        if proc.returncode in (126, 127) or "No module named" in proc.stderr:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            raise KioskMissing(f"kiosk command not found or not working on the host "
                               f"({self.kiosk_cmd!r}: {last}); see --remote-kiosk")
        return proc.returncode, proc.stdout, proc.stderr

    def releases(self, verb: str, *args: str, timeout: float | None = None) -> dict[str, Any]:
        """`kiosk releases VERB ARGS --json`; raises RemoteError with its `error` when not ok."""
        code, out, err = self._call(["releases", *self.root_args, "--json", verb, *args], timeout)
        data = parse_json_out(out)
        if data is None:
            last = (err.strip().splitlines() or [out.strip()[-200:] or f"exit {code}"])[-1]
            raise RemoteError(f"`kiosk releases {verb}` on the host failed: {last} (is the kiosk "
                              "software on the host recent enough for `kiosk releases`?)")
        if not data.get("ok"):
            raise RemoteError(str(data.get("error") or f"`kiosk releases {verb}` failed (exit {code})"))
        return data

    def health(self) -> Health:
        """`kiosk status --json` read as: is a live kiosk serving, and which index."""
        try:
            code, out, err = self._call(["status", "--json"], self.conn.options.connect_timeout + 40)
        except KioskMissing:
            raise
        except RemoteError as exc:
            return Health(False, None, f"no status ({exc})")
        data = parse_json_out(out) or {}
        index_id, state = data.get("index_id"), data.get("state")
        healthy = code == 0 and state in HEALTHY_STATES
        config = data.get("deployed_config")
        summary = f"index {index_id or 'none'}, state {state or 'unknown'}"
        if config:
            summary += f", config {str(config)[:12]}"
        if not healthy:
            problems = "; ".join(str(p) for p in data.get("problems") or []) or err.strip()[-200:]
            summary += f", unhealthy{': ' + problems if problems else ''}"
        if data.get("last_error"):
            summary += f", last error: {str(data['last_error'])[:300]}"
        return Health(healthy, index_id, summary, config if isinstance(config, str) else None)

    def wait_for(self, index_id: str, timeout: float, config: str | None = None) -> Health:
        """Poll the status until a healthy kiosk reports index_id (and, when given, the deployed
        config with sha256 `config` in force), or timeout (the last reading)."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if health.healthy and health.index_id == index_id and config in (None, health.config):
                return health
            if time.monotonic() >= deadline:
                return health
            time.sleep(0.5)

    def hold_lock(self, owner: str, wait: float) -> subprocess.Popen:
        """Take the kiosk's deploy lock for this session (released when we close its stdin, or
        when this machine or its connection dies)."""
        proc = self.conn.popen([*self.words, "releases", *self.root_args, "--json", "hold",
                                "--owner", owner, "--wait", str(wait)])
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], wait + self.conn.options.connect_timeout + 30)
        line = proc.stdout.readline() if ready else ""
        data = parse_json_out(line) if line else None
        if data and data.get("locked"):
            return proc
        # read through the same buffered wrappers as readline (communicate() would bypass them)
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        rest, stderr = proc.stdout.read(), proc.stderr.read()
        data = data or parse_json_out(line + rest)
        if proc.returncode == 255:
            raise RemoteError(ssh_error(stderr, 255))
        if proc.returncode in (126, 127):
            raise KioskMissing(f"kiosk command not found or not working on the host ({self.kiosk_cmd!r}: "
                               f"{(stderr.strip().splitlines() or ['?'])[-1]}); see --remote-kiosk")
        if data and data.get("error"):
            raise RemoteError(str(data["error"]))
        raise RemoteError(f"cannot take the deploy lock on the host: {stderr.strip()[-300:] or 'no answer'}"
                          " (is the kiosk software on the host recent enough for `kiosk releases`?)")

    @staticmethod
    def release_lock(proc: subprocess.Popen) -> None:
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
