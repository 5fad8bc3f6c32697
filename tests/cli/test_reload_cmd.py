"""`kiosk reload` (the unit's ExecReload=): SIGHUP, then wait for the kiosk's next reload outcome.

The kiosk's side is a real child process that handles SIGHUP by writing the status file the way
KioskService does (tests/app/service/test_service.py checks the service writes these fields).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kiosk.cli.reload_cmd import (
    EXIT_APPLIED,
    EXIT_NO_ANSWER,
    EXIT_REFUSED,
    choose_status_file,
    wait_for_reload,
)

#: A stand-in kiosk: on SIGHUP it bumps reload_generation with the outcome given in argv[2]
#: ("die": exit without answering; "ignore": never answer).
CHILD = textwrap.dedent("""
    import json, os, signal, sys, time
    path, outcome = sys.argv[1], sys.argv[2]
    status = {"pid": os.getpid(), "reload_generation": 4, "reload_outcome": "applied",
              "index_id": "idx-a", "state": "running", "last_error": None}
    def write():
        tmp = path + ".tmp"
        open(tmp, "w").write(json.dumps(status))
        os.replace(tmp, path)
    def hup(signum, frame):
        if outcome == "die":
            os._exit(1)
        if outcome == "ignore":
            return
        time.sleep(0.3)
        status["reload_generation"] += 1
        status["reload_outcome"] = outcome
        status["last_error"] = None if outcome == "applied" else "reload refused: bad display.layout"
        write()
    signal.signal(signal.SIGHUP, hup)
    write()
    while True:
        time.sleep(0.05)
""")


def start_child(tmp_path: Path, outcome: str) -> tuple[subprocess.Popen[bytes], Path]:
    status = tmp_path / "status.json"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(status), outcome])
    deadline = time.monotonic() + 10
    while not status.exists():
        assert time.monotonic() < deadline, "the stand-in kiosk never wrote its status"
        time.sleep(0.02)
    return child, status


@pytest.mark.parametrize(("outcome", "code", "words"), [
    ("applied", EXIT_APPLIED, "reload applied: index idx-a"),
    ("refused", EXIT_REFUSED, "bad display.layout"),
    ("die", EXIT_NO_ANSWER, "died during the reload"),
    ("ignore", EXIT_NO_ANSWER, "no reload outcome"),
])
def test_waits_for_the_outcome(tmp_path: Path, outcome: str, code: int, words: str) -> None:
    child, status = start_child(tmp_path, outcome)
    try:
        start = time.monotonic()
        got, message = wait_for_reload(status, child.pid, timeout=3)
        assert (got, words in message) == (code, True), message
        if outcome in ("applied", "refused"):
            assert time.monotonic() - start >= 0.3  # it waited for the kiosk, not just for the signal
            assert json.loads(status.read_text())["reload_generation"] == 5
    finally:
        child.kill()
        child.wait()


def test_refuses_to_signal_a_process_the_status_is_not_about(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"pid": 999_999_999, "reload_generation": 0}))
    sent: list[tuple[int, int]] = []
    code, message = wait_for_reload(status, 12345, timeout=1, send=lambda p, s: sent.append((p, s)))
    assert (code, sent) == (EXIT_NO_ANSWER, [])
    assert "not of the kiosk 12345" in message


def test_missing_status_file(tmp_path: Path) -> None:
    code, message = wait_for_reload(tmp_path / "none.json", 1, timeout=1, send=lambda p, s: None)
    assert code == EXIT_NO_ANSWER and "no status file" in message


def test_command_line(tmp_path: Path) -> None:
    child, status = start_child(tmp_path, "refused")
    try:
        result = subprocess.run([sys.executable, "-m", "kiosk", "reload", "--status-file", str(status),
                                 "--pid", str(child.pid), "--timeout", "5"],
                                capture_output=True, text=True, timeout=60, check=False)
    finally:
        child.kill()
        child.wait()
    assert result.returncode == EXIT_REFUSED, result.stderr
    assert "reload refused" in result.stderr and "bad display.layout" in result.stderr


def test_a_broken_config_still_finds_the_kiosks_status(tmp_path: Path) -> None:
    """The reload to refuse is of a broken config: the status is then looked for in the default place."""
    child, _ = start_child(tmp_path, "refused")
    config = tmp_path / "kiosk.yaml"
    config.write_text(f"status:\n  path: {tmp_path / 'elsewhere.json'}\ndisplay:\n  layout: grid\n")
    try:
        env = {**os.environ, "RUNTIME_DIRECTORY": str(tmp_path)}  # systemd's RuntimeDirectory=
        result = subprocess.run([sys.executable, "-m", "kiosk", "reload", "--config", str(config),
                                 "--pid", str(child.pid), "--timeout", "5"],
                                capture_output=True, text=True, timeout=60, check=False, env=env)
    finally:
        child.kill()
        child.wait()
    assert result.returncode == EXIT_REFUSED, result.stderr
    assert "display.layout" in result.stderr  # the config's problem is said, and the kiosk's answer
    assert "bad display.layout" in result.stderr


def test_choose_status_file_trusts_only_the_kiosks_pid(tmp_path: Path) -> None:
    other, mine = tmp_path / "other.json", tmp_path / "mine.json"
    other.write_text(json.dumps({"pid": 1}))
    mine.write_text(json.dumps({"pid": 4242}))
    assert choose_status_file([tmp_path / "missing.json", other, mine], 4242) == mine
    assert choose_status_file([other, mine], None) == other
