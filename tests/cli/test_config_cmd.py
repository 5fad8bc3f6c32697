from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

CHECKOUT = Path(__file__).resolve().parents[2]


def _kiosk(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          timeout=120, check=False, env=env)


def test_check_the_shipped_file() -> None:
    result = _kiosk("config", "check", str(CHECKOUT / "config" / "kiosk.yaml"))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_prints_every_problem_with_its_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("display:\n  crossfade: 1\n  layout: grid\nmatch:\n  max_distance: 9\n")
    result = _kiosk("config", "check", str(bad))
    assert result.returncode == 1
    for expected in ("display.crossfade: unknown key", "display.layout: 'grid' is not one of",
                     "match.max_distance: 9.0 is above the maximum 2"):
        assert expected in result.stderr
    assert "3 problem(s)" in result.stderr


def test_check_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    assert _kiosk("config", "check", str(tmp_path / "missing.yaml")).returncode == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("camera: [unclosed\n")
    result = _kiosk("config", "check", str(broken))
    assert result.returncode == 1
    assert "not valid YAML" in result.stderr


def test_show_prints_the_effective_config(tmp_path: Path) -> None:
    partial = tmp_path / "k.yaml"
    partial.write_text("display:\n  layout: full_mirror\n")
    result = _kiosk("config", "show", str(partial))
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["display"]["layout"] == "full_mirror"
    assert data["display"]["crossfade_ms"] == 250  # default filled in
    assert data["model"]["name"] == ""  # empty: the model the index was built with
    assert data["display"]["max_fps"] == 60


def test_default_file_comes_from_kiosk_config(tmp_path: Path) -> None:
    import os

    partial = tmp_path / "k.yaml"
    partial.write_text("attract:\n  slide_seconds: 9\n")
    result = _kiosk("config", "show", env={**os.environ, "KIOSK_CONFIG": str(partial)})
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["attract"]["slide_seconds"] == 9.0
