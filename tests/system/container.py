"""A Debian bookworm container booted with systemd as PID 1 (systemd-nspawn), for the system tests.

The rootfs comes from scripts/test_rootfs.sh (a cached mmdebstrap tarball); each test session
unpacks it into a fresh directory, boots it with

    systemd-nspawn --register=no --keep-unit -D ROOT -b --console=pipe -M NAME

(this machine's PID 1 is not systemd: no machined registration, no scope unit) and runs commands
inside with nsenter into the container's namespaces, in a clean environment. Nothing here knows
about the kiosk: tests/system/conftest.py installs it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
             "LANG": "C.UTF-8", "TERM": "dumb"}


class ContainerError(RuntimeError):
    """The container could not be built, booted or entered."""


@dataclass
class Container:
    root: Path
    name: str
    binds: list[tuple[Path, str, bool]] = field(default_factory=list)  # (host, guest, read_only)
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    leader: int | None = None

    @classmethod
    def unpack(cls, tarball: Path, root: Path, name: str) -> Container:
        root.mkdir(parents=True)
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(root)], check=True)
        return cls(root=root, name=name)

    def copy_host_ca_certificates(self) -> None:
        """pip inside needs the machine's CA certificates (an egress proxy may re-sign TLS)."""
        extra = Path("/usr/local/share/ca-certificates")
        dest = self.root / "usr/local/share/ca-certificates"
        dest.mkdir(parents=True, exist_ok=True)
        if extra.is_dir():
            for cert in extra.glob("*.crt"):
                shutil.copy2(cert, dest / cert.name)
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if bundle.is_file():
            shutil.copy2(bundle, self.root / "etc/ssl/certs/ca-certificates.crt")

    def boot(self, timeout: float = 120.0) -> None:
        cmd = ["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "-D", str(self.root),
               "-M", self.name, "-b", "--console=pipe"]
        for host, guest, read_only in self.binds:
            cmd.append(f"--bind{'-ro' if read_only else ''}={host}:{guest}")
        log = open(self.log_path or os.devnull, "wb")  # open while the container lives
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.leader is None:
            self._check_alive()
            self.leader = self._find_leader()
            if time.monotonic() > deadline:
                raise ContainerError(f"no PID 1 in {self.name} after {timeout:g} s; {self.log_tail()}")
            time.sleep(0.2)
        while True:
            self._check_alive()
            state = self.run(["systemctl", "is-system-running"], check=False, timeout=30).stdout.strip()
            if state in ("running", "degraded"):
                return
            if time.monotonic() > deadline:
                raise ContainerError(f"{self.name} did not finish booting ({state}); {self.log_tail()}")
            time.sleep(0.5)

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise ContainerError(f"systemd-nspawn exited ({self._proc.returncode}); {self.log_tail()}")

    def _find_leader(self) -> int | None:
        """The container's PID 1: systemd-nspawn's child (its inner child on newer versions)."""
        assert self._proc is not None
        pids = [self._proc.pid]
        for _ in range(3):
            kids: list[int] = []
            for pid in pids:
                try:
                    kids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
                except OSError:
                    pass
            for kid in kids:
                try:
                    comm = Path(f"/proc/{kid}/comm").read_text().strip()
                except OSError:
                    continue
                if comm == "systemd":
                    return kid
            pids = kids
        return None

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no console log)"
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "console:\n" + "\n".join(text)

    def run(self, cmd: list[str] | str, *, check: bool = True, timeout: float = 600.0,
            env: dict[str, str] | None = None, user: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside (a string runs with bash -c), in a clean environment."""
        if self.leader is None:
            raise ContainerError("the container is not booted")
        argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        if user is not None:
            argv = ["runuser", "-u", user, "--", *argv]
        full = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w",
                "env", "-i", *(f"{k}={v}" for k, v in {**CLEAN_ENV, **(env or {})}.items()), *argv]
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
            raise ContainerError(f"`{shown}` failed ({result.returncode}) in {self.name}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def shutdown(self, timeout: float = 60.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        if self.leader is not None:
            # A throwaway container: its PID 1 killed, the kernel ends every process inside at once.
            try:
                os.kill(self.leader, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, 9)
            self._proc.wait(timeout=30)

    def remove(self) -> None:
        self.shutdown()
        # In the background: deleting a whole system takes a while and the tests are done with it.
        subprocess.Popen(["rm", "-rf", "--one-file-system", str(self.root.parent)], start_new_session=True)
