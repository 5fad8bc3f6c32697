"""Journal logging: one entry per record (tracebacks included) at the record's priority, also for
uncaught exceptions in the main thread and in other threads. A real process, a datagram socket
standing in for journald's, parsed with journald's native-protocol rules."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.logsetup import encode_journal_fields

CHILD = r"""
import logging, sys, threading
from pathlib import Path
from kiosk.core.logsetup import setup_logging
setup_logging(journal_socket=Path(sys.argv[1]))
log = logging.getLogger("kiosk.test")
log.info("hello")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("the loop failed")
t = threading.Thread(target=lambda: [][1], name="worker")
t.start(); t.join()
raise RuntimeError("main died")
"""


def parse_entry(data: bytes) -> dict[str, str]:
    """journald's parser: NAME=value\n, or NAME\n + uint64 LE length + value + \n."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            i = nl + 1
        else:
            name = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            value = data[nl + 9:nl + 9 + n]
            assert data[nl + 9 + n:nl + 10 + n] == b"\n"
            i = nl + 10 + n
        fields[name.decode()] = value.decode()
    return fields


@pytest.fixture()
def journal(tmp_path: Path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "journal.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, path
    sock.close()


def test_each_record_is_one_entry_at_its_priority(journal) -> None:
    sock, path = journal
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1
    entries = [parse_entry(sock.recv(1 << 20)) for _ in range(4)]
    info, error, thread, main = entries
    assert info["PRIORITY"] == "6" and info["MESSAGE"] == "kiosk.test: hello"
    assert error["PRIORITY"] == "3"
    assert "the loop failed" in error["MESSAGE"] and "ZeroDivisionError" in error["MESSAGE"]
    assert error["MESSAGE"].count("\n") >= 3  # the whole traceback, in this one entry
    assert thread["PRIORITY"] == "2" and "thread worker" in thread["MESSAGE"]
    assert "IndexError" in thread["MESSAGE"] and "Traceback" in thread["MESSAGE"]
    assert main["PRIORITY"] == "2" and "RuntimeError: main died" in main["MESSAGE"]
    assert error["LOGGER"] == "kiosk.test" and error["SYSLOG_IDENTIFIER"] == "kiosk"


def test_without_the_socket_a_record_is_still_one_prefixed_line(tmp_path: Path) -> None:
    """JOURNAL_STREAM names our stderr but journald's socket is gone: `<N>` lines, newlines escaped."""
    err = tmp_path / "stderr"
    with open(err, "wb") as f:
        st = os.fstat(f.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        code = CHILD.replace("setup_logging(journal_socket=Path(sys.argv[1]))",
                             "import kiosk.core.logsetup as ls; ls.JOURNAL_SOCKET = Path(sys.argv[1]);"
                             " setup_logging()")
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "missing.sock")], stderr=f,
                       env=env, timeout=60, check=False)
    lines = err.read_text().splitlines()
    assert len(lines) == 4, lines
    assert lines[0] == "<6>kiosk.test: hello"
    assert lines[1].startswith("<3>kiosk.test: the loop failed\\nTraceback")
    assert lines[2].startswith("<2>") and "IndexError" in lines[2]
    assert lines[3].startswith("<2>") and "main died" in lines[3]


@pytest.mark.parametrize("value", ["one line", "two\nlines", "", "ünïcode\n\n"])
def test_native_encoding_round_trips(value: str) -> None:
    assert parse_entry(encode_journal_fields({"MESSAGE": value, "PRIORITY": "3"})) == {
        "MESSAGE": value, "PRIORITY": "3"}
