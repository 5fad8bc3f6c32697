"""`kiosk run` on the command line: options, config resolution, exit codes, a short real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.kiosk_process import SQUATS, build_index


def kiosk(*args: str, env: dict[str, str] | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", **(env or {})}
    full_env.pop("NOTIFY_SOCKET", None)
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          timeout=timeout, check=False, env=full_env)


def test_help_lists_the_options() -> None:
    result = kiosk("run", "--help")
    assert result.returncode == 0
    for option in ("--config", "--index", "--source", "--max-frames", "--screenshots", "--headless", "--fast",
                   "--once", "--status-file", "KIOSK_CONFIG", "SIGHUP"):
        assert option in result.stdout


def test_bad_source_is_refused() -> None:
    result = kiosk("run", "--source", "usb")
    assert result.returncode != 0
    assert "'usb' is not a camera source" in result.stderr


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("display:\n  rotation: 45\n")
    result = kiosk("run", "--status-file", str(tmp_path / "s.json"), env={"KIOSK_CONFIG": str(bad)})
    assert result.returncode == 2
    assert "display.rotation" in result.stderr and str(bad) in result.stderr
    assert "kiosk config check" in result.stderr
    missing = kiosk("run", "--config", str(tmp_path / "nope.yaml"), "--status-file", str(tmp_path / "s.json"))
    assert missing.returncode == 2
    assert "cannot read the file" in missing.stderr


@pytest.mark.slow
def test_a_short_real_run(tmp_path: Path, shared_dir: Path, models_dir: Path) -> None:
    index_id = build_index(shared_dir, models_dir, "a", tmp_path / "index")
    config = tmp_path / "k.yaml"
    config.write_text("display:\n  width: 320\n  height: 180\nmodel:\n  num_threads: 1\n")
    shots = tmp_path / "shots"
    status = tmp_path / "status.json"
    result = kiosk("run", "--config", str(config), "--index", str(tmp_path / "index"), "--source",
                   f"replay:{shared_dir / SQUATS}", "--max-frames", "8", "--fast",
                   "--screenshots", str(shots),
                   "--status-file", str(status), env={"KIOSK_MODELS_DIR": str(models_dir)})
    assert result.returncode == 0, result.stderr
    assert "stopping after 8 frames" in result.stderr
    assert (shots / "last.png").is_file()
    data = json.loads(status.read_text())
    assert data["frames"] == 8
    assert data["index_id"] == index_id
    assert data["state"] == "stopping"
    assert data["model"] == "movenet-lightning"
