"""A real `kiosk run` in a subprocess for the service tests: replayed camera, headless, a real
NOTIFY_SOCKET, a status file in a temp dir; always killed in the test's finaliser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kiosk.app.service.status import StatusError, read_status
from tests.app.notify_helpers import NotifySocket

SQUATS = "data/recordings/pose_squats.mp4"
PHOTOS = "data/posenet-demo-images"

#: Photos for two small, different real indexes (MoveNet keeps at least one pose in each).
INDEX_PHOTOS = {
    "a": ["baseball.jpg", "tennis_standing.jpg", "skiing.jpg", "frisbee.jpg"],
    "b": ["tennis_in_crowd.jpg", "snowboard.jpg", "soccer.png", "backpackman.jpg"],
}


def build_index(shared: Path, models_dir: Path, name: str, out: Path) -> str:
    """`kiosk index build` a small real index from the PoseNet demo photos; returns its index_id."""
    photos = [str(shared / PHOTOS / p) for p in INDEX_PHOTOS[name]]
    env = {**os.environ, "KIOSK_MODELS_DIR": str(models_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "index", "build", *photos, "-o", str(out), "--model",
         "movenet-lightning", "--partial-body", "--display-size", "320x360", "--no-cache", "--quiet"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "manifest.json").read_text())["index_id"]


def switch_current(root: Path, release: Path) -> None:
    """What a deploy does: a new symlink renamed over `current`."""
    tmp = root / ".current.tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(release)
    os.replace(tmp, root / "current")


def install_release(root: Path, built: Path) -> Path:
    release = root / "releases" / built.name
    shutil.copytree(built, release)
    return release


class KioskProcess:
    """`kiosk run` with the replayed squats; `notify` receives its sd_notify messages."""

    def __init__(self, tmp: Path, shared: Path, models_dir: Path, index_root: Path, *,
                 config: str = "", env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                 watchdog_usec: int = 2_000_000, module: tuple[str, ...] = ("kiosk",)) -> None:
        self.tmp = tmp
        self.index_root = index_root
        self.config_file = tmp / "kiosk.yaml"
        self.status_file = tmp / "run" / "status.json"
        self.log_file = tmp / "kiosk.log"
        self.write_config(config)
        self.notify = NotifySocket(tmp)
        self.env = {
            **os.environ,
            "KIOSK_MODELS_DIR": str(models_dir),
            "SDL_VIDEODRIVER": "dummy",
            "SDL_AUDIODRIVER": "dummy",
            "NOTIFY_SOCKET": str(self.notify.path),
            "WATCHDOG_USEC": str(watchdog_usec),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.env.pop("WATCHDOG_PID", None)
        self.args = ["run", "--config", str(self.config_file), "--source", f"replay:{shared / SQUATS}",
                     "--status-file", str(self.status_file), *args]
        self.module = module  # `python -m <module...>`: the kiosk, or a test entry point wrapping it
        self.proc: subprocess.Popen[bytes] | None = None

    def write_config(self, extra: str) -> None:
        base = (f"index:\n  path: {self.index_root}/current\n"
                "model:\n  num_threads: 1\n"
                "display:\n  width: 320\n  height: 180\n  fullscreen: false\n  crossfade_ms: 0\n"
                "status:\n  interval_s: 0.2\n")
        merged = yaml.safe_load(base)
        for section, values in (yaml.safe_load(extra) or {}).items():  # duplicate keys are refused
            merged.setdefault(section, {}).update(values)
        self.config_file.write_text(yaml.safe_dump(merged, sort_keys=False))

    def start(self) -> KioskProcess:
        with open(self.log_file, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", *self.module, *self.args], env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"kiosk did not exit within {timeout} s; log:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.notify.close()

    def status(self) -> dict[str, Any] | None:
        try:
            return read_status(self.status_file)
        except StatusError:
            return None

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60,
                    what: str = "a status") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status is not None and status.get("pid") == self.pid and predicate(status):
                return status
            if self.proc is not None and self.proc.poll() is not None:
                code = self.proc.returncode
                raise AssertionError(f"kiosk exited ({code}) waiting for {what}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout} s (last: {self.status()}); log:\n{self.log()}")

    def wait_ready(self, after: int = 0, timeout: float = 180) -> int:
        try:
            return self.notify.wait_for("READY", after=after, timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; log:\n{self.log()}") from None

    def kiosk_status(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kiosk", "status", "--status-file",
                               str(self.status_file), *args], capture_output=True, text=True,
                              timeout=120, check=False)
