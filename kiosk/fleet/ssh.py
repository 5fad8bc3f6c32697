"""OpenSSH and rsync as subprocesses, with argument lists only.

A `Connection` starts one ssh master per host (ControlMaster, its socket in a private temp dir)
that every later ssh and rsync shares; `~/.ssh/config` applies as usual (host aliases, users,
ProxyJump, keys). The master runs as our child in our process group, so killing the deploy kills
it too. The remote command of `run` is one string (that is what ssh sends), built with
shlex.quote from a list of words: no name ever reaches a shell unquoted.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

HOST_RE = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9._-]+)(?::(?P<port>[0-9]+))?$")
#: rsync exit codes: what they mean for a deploy
RSYNC_UNREACHABLE, RSYNC_TIMEOUTS, RSYNC_WRITE = (255, 12), (30, 35), (11,)


class SshError(RuntimeError):
    """ssh could not connect or log in; the message is the readable reason."""


@dataclass(frozen=True)
class Target:
    """A host as given on the command line: [user@]host[:port]."""

    spec: str
    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, spec: str) -> Target:
        m = HOST_RE.match(spec)
        if not m:
            raise ValueError(f"bad host {spec!r} (expected [user@]host[:port])")
        port = int(m["port"]) if m["port"] else None
        return cls(spec=spec, host=m["host"], user=m["user"], port=port)


@dataclass(frozen=True)
class SshOptions:
    """ssh settings from the command line (everything else comes from ~/.ssh/config)."""

    port: int | None = None
    identity: str | None = None
    user: str | None = None
    options: tuple[str, ...] = ()
    connect_timeout: int = 10
    io_timeout: int = 60

    def argv(self, target: Target) -> list[str]:
        argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", "ServerAliveInterval=5", "-o", f"ServerAliveCountMax={self.io_timeout // 5 + 1}"]
        port = target.port or self.port
        if port:
            argv += ["-p", str(port)]
        if self.identity:
            argv += ["-i", self.identity, "-o", "IdentitiesOnly=yes"]
        user = target.user or self.user
        if user:
            argv += ["-l", user]
        for opt in self.options:
            argv += ["-o", opt]
        return argv


def ssh_error(stderr: str, code: int) -> str:
    """A readable reason from ssh's stderr."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("Warning: Permanently")]
    last = lines[-1] if lines else f"ssh exit {code}"
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        return f"ssh login refused: {last} (check the user, the key (-i) and the host's authorized_keys)"
    if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION" in stderr:
        return f"ssh host key problem: {last} (check ~/.ssh/known_hosts)"
    return f"unreachable: {last}"


def remote_command(words: Sequence[str]) -> str:
    """The one string ssh sends, every word quoted for the remote shell."""
    return " ".join(shlex.quote(str(w)) for w in words)


def rsh_string(argv: Sequence[str]) -> str:
    """An ssh argv as rsync's -e string (rsync splits it itself, honouring quotes)."""
    return " ".join(shlex.quote(w) for w in argv)


@dataclass
class Connection:
    target: Target
    options: SshOptions
    workdir: Path
    master: subprocess.Popen | None = None
    _socket: Path | None = None
    _stderr: Path | None = None
    extra: list[str] = field(default_factory=list)

    def base_argv(self) -> list[str]:
        return self.options.argv(self.target) + self.extra

    def open(self) -> None:
        """Start the master connection; raises SshError (unreachable, login refused)."""
        name = f"cm.{abs(hash(self.target.spec))}.{time.monotonic_ns()}"
        sock = self.workdir / name
        self._stderr = self.workdir / f"{name}.err"
        with open(self._stderr, "wb") as err:
            self.master = subprocess.Popen(
                [*self.options.argv(self.target), "-o", "ControlMaster=yes", "-o", f"ControlPath={sock}",
                 "-o", "ControlPersist=no", "-N", self.target.host],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + self.options.connect_timeout + 5
        while not sock.exists():
            if self.master.poll() is not None:
                self.master = None
                raise SshError(ssh_error(self._stderr.read_text(errors="replace"), 255))
            if time.monotonic() > deadline:
                self.close()
                raise SshError(f"unreachable: no ssh answer within {self.options.connect_timeout}s")
            time.sleep(0.05)
        self._socket = sock
        self.extra = ["-o", "ControlMaster=no", "-o", f"ControlPath={sock}"]

    def close(self) -> None:
        if self.master is not None and self.master.poll() is None:
            self.master.terminate()
            try:
                self.master.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait()
        self.master = None

    def run(self, words: Sequence[str], timeout: float, stdin: str | None = None
            ) -> subprocess.CompletedProcess:
        """Run the command `words` on the host; stdout/stderr captured as text."""
        argv = [*self.base_argv(), self.target.host, remote_command(words)]
        try:
            return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                                  stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(argv, 124, exc.stdout or "",
                                               f"timed out after {timeout:g}s")

    def popen(self, words: Sequence[str]) -> subprocess.Popen:
        """A long-running remote command with pipes (e.g. the deploy lock holder)."""
        argv = [*self.base_argv(), self.target.host, remote_command(words)]
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def rsync_argv(self, src: str, dest: str, *, rsync_path: str | None, extra: Sequence[str] = ()
                   ) -> list[str]:
        """rsync over this connection; the remote path goes through --protect-args (-s), so the
        host's shell never sees it."""
        argv = ["rsync", "-s", "-e", rsh_string(self.base_argv()), *extra]
        if rsync_path:
            argv.append(f"--rsync-path={rsync_path}")
        return [*argv, src, f"{self.target.host}:{dest}"]
