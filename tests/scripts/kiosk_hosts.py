"""Real servers for the deploy tests: an OpenSSH server per "kiosk host" on 127.0.0.1 (free high
port, throwaway host key, one authorised key, all in a temp dir) and a kiosk process serving
that host's index root, the target of the deploy's reload (SIGHUP via its pid file).

Each host's ssh sessions get their own environment through sshd's SetEnv: PATH (the kiosk
command first, then the host's `shim` dir that a test may fill, e.g. with a fake `df`),
KIOSK_INDEX_ROOT (the deploy's default index root), RUNTIME_DIRECTORY (where the kiosk writes
and `kiosk status` reads status.json), KIOSK_PIDFILE (used by the tests' --reload-cmd).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
RELOAD_CMD = 'kill -HUP "$(cat "$KIOSK_PIDFILE")"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_client_key(dir: Path) -> Path:
    key = dir / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


@dataclass
class KioskHost:
    """One simulated kiosk: sshd + index root + (optionally) a running kiosk process."""

    name: str
    dir: Path
    client_key: Path
    kiosk_bin: Path  # directory holding the `kiosk` command the ssh sessions find first on PATH
    env: dict[str, str]  # extra environment for the sessions and the kiosk process
    kiosk_argv: Callable[[Path], list[str]]  # index dir -> argv of the kiosk process
    port: int = 0
    sshd: subprocess.Popen | None = None
    kiosk: subprocess.Popen | None = None
    kiosk_log: Path | None = None
    _logs: list[Any] = field(default_factory=list)

    # ---- layout
    @property
    def index_root(self) -> Path:
        return self.dir / "index"

    @property
    def releases(self) -> Path:
        return self.index_root / "releases"

    @property
    def current(self) -> Path:
        return self.index_root / "current"

    @property
    def shim(self) -> Path:
        return self.dir / "shim"

    @property
    def runtime(self) -> Path:
        return self.dir / "run"

    @property
    def pidfile(self) -> Path:
        return self.dir / "kiosk.pid"

    @property
    def spec(self) -> str:
        return f"127.0.0.1:{self.port}"

    def session_env(self) -> dict[str, str]:
        path = f"{self.kiosk_bin}:{self.shim}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return {
            "PATH": path,
            "KIOSK_INDEX_ROOT": str(self.index_root),
            "RUNTIME_DIRECTORY": str(self.runtime),
            "KIOSK_PIDFILE": str(self.pidfile),
            **self.env,
        }

    # ---- sshd
    def start_sshd(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.shim.mkdir(exist_ok=True)
        self.runtime.mkdir(exist_ok=True)
        self.releases.mkdir(parents=True, exist_ok=True)
        host_key = self.dir / "ssh_host_ed25519_key"
        if not host_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
        auth = self.dir / "authorized_keys"
        auth.write_text(Path(f"{self.client_key}.pub").read_text())
        auth.chmod(0o600)
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        for attempt in range(3):  # a free port can be taken before sshd binds it (pytest-xdist workers)
            if self._launch_sshd(host_key, auth, free_port()) or attempt == 2:
                break
        wait_until(self._sshd_listening, 10, f"sshd on port {self.port}")

    def _launch_sshd(self, host_key: Path, auth: Path, port: int) -> bool:
        """sshd on `port`; False when it exited because the port was in use."""
        setenv = " ".join(f'"{k}={v}"' for k, v in self.session_env().items())
        self.port = port
        config = self.dir / "sshd_config"
        config.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {host_key}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {auth}\n"
            "PermitRootLogin prohibit-password\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "StrictModes no\n"
            "UsePAM no\n"
            "PrintMotd no\n"
            "PrintLastLog no\n"
            "MaxStartups 100\n"
            "MaxSessions 100\n"
            "LogLevel ERROR\n"
            f"SetEnv {setenv}\n"
        )
        log = open(self.dir / "sshd.log", "ab")
        self._logs.append(log)
        logged = log.tell()
        (self.dir / "sshd.pid").unlink(missing_ok=True)
        self.sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log,
                                     start_new_session=True)
        try:
            wait_until(self._sshd_listening, 10, f"sshd on port {self.port}")
        except AssertionError:
            said = (self.dir / "sshd.log").read_bytes()[logged:]
            if b"Address already in use" in said:
                return False
            raise
        return True

    def _sshd_listening(self) -> bool:
        """Our sshd bound its port (it writes its pid file after that) and accepts connections."""
        assert self.sshd is not None
        if self.sshd.poll() is not None:
            raise AssertionError(f"sshd exited: {(self.dir / 'sshd.log').read_text()}")
        try:
            if (self.dir / "sshd.pid").read_text().strip() != str(self.sshd.pid):
                return False
        except OSError:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def ssh(self, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["ssh", *ssh_client_options(self.client_key), "-p", str(self.port),
                               "127.0.0.1", command], capture_output=True, text=True, timeout=timeout)

    # ---- kiosk process
    def start_kiosk(self) -> None:
        env = {**os.environ, **self.session_env()}
        self.kiosk_log = self.dir / "kiosk.log"
        log = open(self.kiosk_log, "ab")
        self._logs.append(log)
        self.kiosk = subprocess.Popen(self.kiosk_argv(self.current), env=env, stdout=log, stderr=log,
                                      start_new_session=True, cwd=self.dir)
        self.pidfile.write_text(f"{self.kiosk.pid}\n")

    def kiosk_alive(self) -> bool:
        return self.kiosk is not None and self.kiosk.poll() is None

    def status(self) -> dict[str, Any]:
        import json

        try:
            return json.loads((self.runtime / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def serving(self) -> str | None:
        """The index id the kiosk process reports (its status file)."""
        return self.status().get("index_id")

    def wait_serving(self, index_id: str, timeout: float = 60) -> None:
        """Until this kiosk process (not a stale status file of an earlier one: a SIGHUP before it
        installs its handler would kill it) reports index_id."""
        def ok() -> bool:
            if not self.kiosk_alive():
                raise AssertionError(f"the kiosk died: {self.kiosk_log.read_text()[-3000:]}")
            assert self.kiosk is not None
            return self.status().get("pid") == self.kiosk.pid and self.serving() == index_id

        try:
            wait_until(ok, timeout, f"{self.name}'s kiosk to serve {index_id}")
        except AssertionError as exc:
            log = self.kiosk_log.read_text()[-3000:] if self.kiosk_log else ""
            raise AssertionError(f"{exc}; current -> {self.current_target()}; status {self.status()};"
                                 f" kiosk log tail:\n{log}") from None

    def reload(self) -> None:
        assert self.kiosk is not None
        self.kiosk.send_signal(signal.SIGHUP)

    def current_target(self) -> str | None:
        return os.readlink(self.current) if self.current.is_symlink() else None

    def install_release(self, index_dir: Path, index_id: str) -> None:
        """Put a release in place by hand and point current at it (test setup, not the deploy)."""
        dest = self.releases / index_id
        if not dest.exists():
            shutil.copytree(index_dir, dest, symlinks=True)
        tmp = self.index_root / ".current.setup"
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(f"releases/{index_id}")
        os.replace(tmp, self.current)

    def reset(self, index_dir: Path, index_id: str) -> None:
        """Back to: releases/<index_id> only, current -> it, no previous, kiosk serving it."""
        if self.kiosk is not None and self.kiosk.poll() is None:
            os.kill(self.kiosk.pid, signal.SIGCONT)
        for p in self.shim.iterdir():
            p.unlink()
        self.install_release(index_dir, index_id)
        for p in list(self.index_root.iterdir()):
            if p.name in ("current", "releases"):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        for p in list(self.releases.iterdir()):
            if p.name != index_id:
                shutil.rmtree(p)
        if not self.kiosk_alive():
            self.start_kiosk()
        else:
            self.reload()
        self.wait_serving(index_id)

    # ---- cleanup
    def stop(self) -> None:
        for proc in (self.kiosk, self.sshd):
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        for log in self._logs:
            log.close()


def ssh_client_options(key: Path) -> list[str]:
    return ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            "-i", str(key), "-o", "IdentitiesOnly=yes"]
