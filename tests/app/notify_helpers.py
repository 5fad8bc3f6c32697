"""A real NOTIFY_SOCKET for tests: a unix datagram socket in a temp dir, read with bounded waits."""

from __future__ import annotations

import socket
import time
from pathlib import Path


class NotifySocket:
    """Collects sd_notify datagrams; `messages` holds each one as a dict of its KEY=value fields."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def close(self) -> None:
        self.sock.close()

    def _receive(self, timeout: float) -> None:
        self.sock.settimeout(max(0.01, timeout))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.messages.append(fields)

    def drain(self, seconds: float = 0.0) -> None:
        """Read whatever arrives within `seconds` (at least one short poll)."""
        deadline = time.monotonic() + seconds
        while True:
            before = len(self.messages)
            self._receive(min(0.1, max(0.01, deadline - time.monotonic())))
            if time.monotonic() >= deadline and len(self.messages) == before:
                return

    def wait_for(self, key: str, value: str = "1", *, after: int = 0, timeout: float = 60.0) -> int:
        """Index of the first message at or after `after` with key=value; fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(after, len(self.messages)):
                if self.messages[i].get(key) == value:
                    return i
            if time.monotonic() > deadline:
                seen = [",".join(sorted(m)) for m in self.messages[after:]][-20:]
                raise AssertionError(f"no {key}={value} within {timeout} s (got: {seen})")
            self._receive(deadline - time.monotonic())

    def count(self, key: str, *, after: int = 0) -> int:
        return sum(1 for m in self.messages[after:] if key in m)
