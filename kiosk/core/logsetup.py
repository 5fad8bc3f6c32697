"""Logging for the CLI and the service: one logger per module, one setup here.

Under systemd (JOURNAL_STREAM names our stderr) every record is ONE journal entry at its own
priority, a traceback included, so `journalctl -u move-mirror -p err` shows why the kiosk failed:
  * through journald's native protocol (a datagram of FIELD=value lines on JOURNAL_SOCKET) with
    PRIORITY, SYSLOG_IDENTIFIER, LOGGER, CODE_FILE/LINE/FUNC and THREAD_NAME fields;
  * if that socket cannot be used, on stderr with the sd-daemon "<N>" priority prefix and the
    record's newlines escaped as "\\n", so it still is one line, one entry, at the right priority.
Elsewhere records go to stderr as "LEVEL logger: message" (tracebacks as usual).

Uncaught exceptions, in the main thread and in any other thread, are logged as CRITICAL through
the same handler (sys.excepthook, threading.excepthook).
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import sys
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["JOURNAL_SOCKET", "JournalHandler", "encode_journal_fields", "setup_logging"]

#: journald's native-protocol socket.
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")

_SD_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}

log = logging.getLogger(__name__)


def _priority(levelno: int) -> int:
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return _SD_PRIORITY[level]
    return 7


def encode_journal_fields(fields: dict[str, str]) -> bytes:
    """journald's native protocol: NAME=value lines; a value holding a newline is length-prefixed."""
    out = bytearray()
    for name, value in fields.items():
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += name.encode() + b"=" + data + b"\n"
    return bytes(out)


class _OneLineJournalFormatter(logging.Formatter):
    """`<N>logger: message` with newlines escaped: one stderr line is one journal entry."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.name}: {super().format(record)}"
        return f"<{_priority(record.levelno)}>" + text.replace("\\", "\\\\").replace("\n", "\\n")


class JournalHandler(logging.Handler):
    """Each record as one journal entry over the native protocol; falls back to stderr lines."""

    def __init__(self, socket_path: Path = JOURNAL_SOCKET, identifier: str = "kiosk") -> None:
        super().__init__()
        self.socket_path = Path(socket_path)
        self.identifier = identifier
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._fallback = logging.StreamHandler(sys.stderr)
        self._fallback.setFormatter(_OneLineJournalFormatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {
                "MESSAGE": f"{record.name}: {self.format(record)}",
                "PRIORITY": str(_priority(record.levelno)),
                "SYSLOG_IDENTIFIER": self.identifier,
                "LOGGER": record.name,
                "CODE_FILE": record.pathname,
                "CODE_LINE": str(record.lineno),
                "CODE_FUNC": record.funcName,
                "THREAD_NAME": record.threadName or "",
            }
            self._sock.sendto(encode_journal_fields(fields), str(self.socket_path))
        except OSError:  # no journald socket (a container, too large a record): still one line
            self._fallback.handle(record)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self._sock.close()
        super().close()


def _stderr_is_journal() -> bool:
    """JOURNAL_STREAM ("dev:inode") names the stream our stderr is connected to."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return True
    return value == f"{st.st_dev}:{st.st_ino}"


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                  thread: str | None = None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    where = f" in thread {thread}" if thread else ""
    logging.getLogger("kiosk").critical("uncaught %s%s: %s", exc_type.__name__, where, exc,
                                        exc_info=(exc_type, exc, tb))


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else None
    _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback, name)


def setup_logging(verbose: int = 0, *, journal_socket: Path | None = None) -> None:
    """Configure the root logger once: INFO by default, DEBUG with -v; hook uncaught exceptions.

    journal_socket: use this native-protocol socket instead of JOURNAL_SOCKET (tests)."""
    level = logging.DEBUG if verbose > 0 else logging.INFO
    handler: logging.Handler
    if journal_socket is not None or _stderr_is_journal():
        handler = JournalHandler(journal_socket or JOURNAL_SOCKET)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    sys.excepthook = _log_uncaught
    threading.excepthook = _thread_hook
