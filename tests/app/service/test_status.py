from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.app.service.status import KioskStatus, StatusError, pid_alive, read_status, write_status
from kiosk.cli.status_cmd import problems_of


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run" / "status.json"
    status = KioskStatus(state="running", index_id="idx-1", model="movenet-lightning", delegate="cpu",
                         fps=29.456)
    write_status(path, status)
    data = read_status(path)
    assert data["state"] == "running"
    assert data["index_id"] == "idx-1"
    assert data["delegate"] == "cpu"
    assert data["fps"] == 29.46
    assert data["pid"] == os.getpid()
    assert data["updated"].endswith("Z") and data["started"].endswith("Z")
    assert abs(data["updated_unix"] - time.time()) < 3600
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temp files left


def test_write_is_atomic_replace(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    write_status(path, KioskStatus(state="starting"))
    inode = path.stat().st_ino
    write_status(path, KioskStatus(state="running"))
    assert path.stat().st_ino != inode  # a new file renamed over the old, never rewritten in place
    assert read_status(path)["state"] == "running"


def test_read_missing_and_garbage(tmp_path: Path) -> None:
    with pytest.raises(StatusError, match="no status file"):
        read_status(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(StatusError, match="not valid JSON"):
        read_status(bad)


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    assert not pid_alive(proc.pid)
    assert not pid_alive(0)


def test_staleness() -> None:
    now = time.time()
    fresh = {"updated_unix": now - 1, "pid": os.getpid()}
    assert problems_of(fresh, max_age=10, now=now) == []
    stale = {"updated_unix": now - 100, "pid": os.getpid()}
    assert "stale" in problems_of(stale, max_age=10, now=now)[0]
    dead = {"updated_unix": now, "pid": 0}
    assert "not running" in problems_of(dead, max_age=10, now=now)[0]


def _kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_status_command(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    missing = _kiosk("status", "--status-file", str(path))
    assert missing.returncode == 1
    assert "no status file" in missing.stderr

    write_status(path, KioskStatus(state="running", index_id="idx-7", pid=os.getpid()))
    ok = _kiosk("status", "--json", "--status-file", str(path))
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["index_id"] == "idx-7" and data["ok"] is True
    table = _kiosk("status", "--status-file", str(path))
    assert table.returncode == 0
    assert "idx-7" in table.stdout and "state" in table.stdout
    assert _kiosk("status", "--status-file", str(path), "--expect-index", "idx-7").returncode == 0
    assert _kiosk("status", "--status-file", str(path), "--expect-index", "idx-8").returncode == 3

    status = KioskStatus(state="running", pid=os.getpid())
    write_status(path, status)
    data = json.loads(path.read_text())
    data["updated_unix"] -= 3600
    path.write_text(json.dumps(data))
    stale = _kiosk("status", "--json", "--status-file", str(path))
    assert stale.returncode == 1
    assert "stale" in json.loads(stale.stdout)["problems"][0]


def test_status_path_from_config(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.json"
    config = tmp_path / "k.yaml"
    config.write_text(f"status:\n  path: {path}\n")
    write_status(path, KioskStatus(state="idle", pid=os.getpid()))
    result = _kiosk("status", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "idle"
