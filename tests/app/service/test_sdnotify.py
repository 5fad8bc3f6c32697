from __future__ import annotations

import os
import socket
import sys
import types
from pathlib import Path

import pytest

from kiosk.app.service import sdnotify
from kiosk.app.service.sdnotify import Notifier, watchdog_interval
from tests.app.notify_helpers import NotifySocket


@pytest.fixture()
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sock = NotifySocket(tmp_path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock.path))
    yield sock
    sock.close()


def test_noop_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier(use_python_systemd=False)
    assert not n.enabled
    assert n.ready() is False
    assert n.watchdog() is False


def test_messages_on_a_real_socket(notify_socket: NotifySocket) -> None:
    n = Notifier(use_python_systemd=False)
    assert n.backend == "socket"
    assert n.ready("running:\n  index abc")
    assert n.watchdog()
    assert n.status("hello")
    assert n.reloading()
    assert n.stopping()
    notify_socket.drain(0.2)
    msgs = notify_socket.messages
    assert msgs[0] == {"READY": "1", "STATUS": "running: index abc"}
    assert msgs[1] == {"WATCHDOG": "1"}
    assert msgs[2] == {"STATUS": "hello"}
    assert msgs[3]["RELOADING"] == "1"
    assert int(msgs[3]["MONOTONIC_USEC"]) > 0
    assert msgs[4]["STOPPING"] == "1"


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"kiosk-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(b"\0" + name.encode())
    server.settimeout(5)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert Notifier(use_python_systemd=False).ready()
        assert server.recv(1024) == b"READY=1"
    finally:
        server.close()


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    n = Notifier(use_python_systemd=False)
    assert n.watchdog() is False
    assert n.watchdog() is False
    assert sum("cannot notify systemd" in r.message for r in caplog.records) == 1


def test_python_systemd_is_used_when_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    daemon = types.ModuleType("systemd.daemon")
    daemon.notify = lambda message: sent.append(message) or True  # type: ignore[attr-defined]
    package = types.ModuleType("systemd")
    package.daemon = daemon  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "systemd", package)
    monkeypatch.setitem(sys.modules, "systemd.daemon", daemon)
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/socket")
    n = Notifier()
    assert n.backend == "python-systemd"
    assert n.stopping()
    assert sent == ["STOPPING=1\nSTATUS=stopping"]


def test_module_level_helpers(notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdnotify, "_default", Notifier(use_python_systemd=False))
    assert sdnotify.ready()
    assert sdnotify.watchdog()
    notify_socket.drain(0.1)
    assert [m.get("READY") or m.get("WATCHDOG") for m in notify_socket.messages] == ["1", "1"]


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        (None, None, None),
        ("4000000", None, 2.0),
        ("4000000", "self", 2.0),
        ("4000000", "1", None),
        ("0", None, None),
        ("soon", None, None),
    ],
)
def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None,
                           expected: float | None) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert watchdog_interval() == expected
