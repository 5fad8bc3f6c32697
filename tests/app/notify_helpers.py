"""A real NOTIFY_SOCKET for tests: a unix datagram socket in a temp dir, read by a thread.

Reading in a thread matters: a datagram socket queues only ~10 messages, and a kiosk running in
the test's own process (or a slow test) must never find it full.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


def _fields(data: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in data.decode(errors="replace").splitlines() if "=" in line)


class NotifySocket:
    """Collects sd_notify datagrams; `messages` holds each as a dict of its KEY=value fields."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.1)
        self.messages: list[dict[str, str]] = []
        self.times: list[float] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closing.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(_fields(data))
                self.times.append(time.monotonic())

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def snapshot(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self.messages)

    def drain(self, seconds: float = 0.2) -> None:
        """Give messages already sent `seconds` to arrive."""
        time.sleep(seconds)

    def wait_for(self, key: str, value: str = "1", *, after: int = 0, timeout: float = 60.0) -> int:
        """Index of the first message at or after `after` with key=value; fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.snapshot()
            for i in range(after, len(messages)):
                if messages[i].get(key) == value:
                    return i
            if time.monotonic() > deadline:
                seen = [",".join(sorted(m)) for m in messages[after:]][-20:]
                raise AssertionError(f"no {key}={value} within {timeout} s (got: {seen})")
            time.sleep(0.02)

    def count(self, key: str, *, after: int = 0, until: int | None = None) -> int:
        return sum(1 for m in self.snapshot()[after:until] if key in m)
