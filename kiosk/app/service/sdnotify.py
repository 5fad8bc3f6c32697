"""systemd's sd_notify protocol: READY, WATCHDOG, STATUS, RELOADING, STOPPING.

Messages go through python-systemd (`systemd.daemon.notify`) when it imports, else straight to
the datagram socket named by NOTIFY_SOCKET (a path, or `@name` for the abstract namespace).
Everything is a no-op when NOTIFY_SOCKET is unset (not started by systemd with Type=notify),
and a failing send is logged once, never raised: notifications must not crash the kiosk.

RELOADING carries MONOTONIC_USEC, which systemd >= 253 expects for Type=notify-reload;
older systemd (bookworm's 252) ignores the extra field.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 1.0

__all__ = [
    "Notifier",
    "notify",
    "ready",
    "reloading",
    "status",
    "stopping",
    "watchdog",
    "watchdog_interval",
]


def _python_systemd_sender() -> Callable[[str], bool] | None:
    try:
        from systemd import daemon  # type: ignore[import-not-found]
    except ImportError:
        return None
    notify_fn = getattr(daemon, "notify", None)
    if notify_fn is None:
        return None

    def send(message: str) -> bool:
        return bool(notify_fn(message))

    return send


def _socket_address(value: str) -> str | bytes:
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # abstract namespace
    return value


def _datagram_send(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        # Never block the loop for long if the receiver's queue is full.
        sock.settimeout(SEND_TIMEOUT_S)
        sock.connect(_socket_address(address))
        sock.sendall(message.encode())
    return True


class Notifier:
    """Sends sd_notify messages; `backend` is "python-systemd", "socket" or "none"."""

    def __init__(self, *, use_python_systemd: bool = True) -> None:
        self._warned = False
        sender = _python_systemd_sender() if use_python_systemd else None
        if sender is not None:
            self._send: Callable[[str], bool] = sender
            self.backend = "python-systemd"
        else:
            self._send = _datagram_send
            self.backend = "socket"

    @property
    def enabled(self) -> bool:
        return bool(os.environ.get("NOTIFY_SOCKET"))

    def notify(self, *fields: str) -> bool:
        """Send `KEY=value` fields as one message; True if it was sent."""
        if not self.enabled:
            return False
        message = "\n".join(fields)
        try:
            return self._send(message)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd through NOTIFY_SOCKET=%s (%s); is the socket still there?",
                            os.environ.get("NOTIFY_SOCKET"), exc)
            return False

    def ready(self, status_text: str | None = None) -> bool:
        fields = ["READY=1"]
        if status_text:
            fields.append(f"STATUS={_one_line(status_text)}")
        return self.notify(*fields)

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={_one_line(text)}")

    def reloading(self) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1", "STATUS=stopping")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG pings (half of WATCHDOG_USEC), or None when systemd wants none.

    WATCHDOG_PID, when set, must be this process (otherwise the watchdog is someone else's).
    """
    usec = os.environ.get("WATCHDOG_USEC", "").strip()
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID", "").strip()
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds; watchdog pings are off", usec)
        return None
    if value <= 0:
        return None
    return value / 1_000_000 / 2


_default: Notifier | None = None


def _notifier() -> Notifier:
    global _default
    if _default is None:
        _default = Notifier()
    return _default


def notify(*fields: str) -> bool:
    return _notifier().notify(*fields)


def ready(status_text: str | None = None) -> bool:
    return _notifier().ready(status_text)


def watchdog() -> bool:
    return _notifier().watchdog()


def status(text: str) -> bool:
    return _notifier().status(text)


def reloading() -> bool:
    return _notifier().reloading()


def stopping() -> bool:
    return _notifier().stopping()
