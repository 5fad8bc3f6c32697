"""scripts/install.sh: --dry-run prints every provisioning step and changes nothing; shellcheck-clean."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
INSTALL = CHECKOUT / "scripts" / "install.sh"

#: Commands that change the machine: in a dry run none may actually run.
MUTATORS = ("apt-get", "groupadd", "useradd", "usermod", "install", "rsync", "ln", "runuser",
            "systemctl", "visudo", "chmod", "mv", "mktemp", "pip", "python3")


@pytest.fixture()
def trap_path(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """PATH with stand-ins for every mutating command; each records that it was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    for name in MUTATORS:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\nexit 0\n')
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return env, calls


def dry_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), "--dry-run", *args], capture_output=True, text=True,
                          timeout=120, check=False, env=env)


def test_dry_run_prints_every_step_and_runs_nothing(trap_path: tuple[dict[str, str], Path]) -> None:
    env, calls = trap_path
    result = dry_run(env, "--coral", "--mirror", "/srv/shared", "--deploy-user", "curator", "--start")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    expected = [
        "+ apt-get update",
        "apt-get install -y --no-install-recommends",
        "python3-picamera2", "python3-venv", "rsync", "libsdl2-2.0-0", "python3-systemd", "libedgetpu1-std",
        "usermod --append --groups video\\,render\\,input\\,plugdev\\,tty mirror",
        "install -d -m 2775 -o mirror -g mirror /var/lib/move-mirror/index",
        "python3 -m venv --system-site-packages /opt/move-mirror/venv",
        "-m pip install --disable-pip-version-check -c /opt/move-mirror/apt-constraints.txt "
        "-e /opt/move-mirror/src",
        "apt-constraints.txt: apt's numpy",
        "+ ln -sfn /opt/move-mirror/venv/bin/kiosk /usr/local/bin/kiosk",
        "+ write /etc/move-mirror/kiosk.yaml",
        "path: /var/lib/move-mirror/index/current",
        "path: /run/move-mirror/status.json",
        "kiosk config check /etc/move-mirror/kiosk.yaml",
        "KIOSK_MODELS_DIR=/var/lib/move-mirror/models",
        # model.name is empty by default (the index's model): every manifest model is fetched
        "/opt/move-mirror/venv/bin/kiosk models fetch --mirror /srv/shared\n",
        "/etc/sudoers.d/move-mirror",
        "curator ALL=(root) NOPASSWD: /usr/bin/systemctl reload move-mirror",
        f"+ install -m 0644 {CHECKOUT}/systemd/move-mirror.service /etc/systemd/system/move-mirror.service",
        "+ systemctl daemon-reload",
        "+ systemctl disable getty@tty1.service",
        "+ systemctl enable move-mirror.service",
        "+ systemctl restart move-mirror.service",
    ]
    for piece in expected:
        assert piece in out, f"{piece!r} missing from the dry run:\n{out}"
    if shutil.which("getent") and subprocess.run(["getent", "passwd", "mirror"], capture_output=True,
                                                 check=False).returncode != 0:
        assert "useradd --system --user-group --home-dir /var/lib/move-mirror" in out
    assert not calls.exists(), f"a dry run ran: {calls.read_text()}"


def test_dry_run_options(trap_path: tuple[dict[str, str], Path]) -> None:
    env, calls = trap_path
    result = dry_run(env, "--no-apt")
    assert result.returncode == 0, result.stderr
    assert "apt-get" not in result.stdout
    assert "sudoers" not in result.stdout
    assert "systemctl restart" not in result.stdout
    assert not calls.exists()


def test_the_installed_config_is_valid(tmp_path: Path) -> None:
    """The config install.sh writes (the shipped one with the machine's paths) passes `config check`."""
    result = subprocess.run(["bash", str(INSTALL), "--dry-run", "--no-apt"], capture_output=True, text=True,
                            timeout=120, check=True)
    changed = [line[4:] for line in result.stdout.splitlines() if line.startswith("|     path: /")]
    assert len(changed) == 2
    text = (CHECKOUT / "config" / "kiosk.yaml").read_text()
    text = text.replace('  path: ""  # index directory', changed[0].split("#")[0] + "  # index directory")
    text = text.replace('  path: ""  # status JSON', changed[1].split("#")[0] + "  # status JSON")
    config = tmp_path / "kiosk.yaml"
    config.write_text(text)
    check = subprocess.run([sys.executable, "-m", "kiosk", "config", "show", str(config)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stderr
    assert "index directory: /var/lib/move-mirror/index/current" in check.stdout
    assert "status file: /run/move-mirror/status.json" in check.stdout


def test_usage_errors() -> None:
    result = subprocess.run(["bash", str(INSTALL), "--bogus"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert "unknown option --bogus" in result.stderr
    helped = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=60,
                            check=False)
    assert helped.returncode == 0
    assert "--dry-run" in helped.stdout and "set -euo" not in helped.stdout


def test_script_is_strict_bash() -> None:
    text = INSTALL.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert INSTALL.stat().st_mode & 0o111


def test_dry_run_uninstall_lists_what_it_removes(trap_path: tuple[dict[str, str], Path]) -> None:
    env, calls = trap_path
    result = dry_run(env, "--uninstall")
    assert result.returncode == 0, result.stderr
    for removed in ("systemctl disable --now move-mirror.service", "/etc/sudoers.d/move-mirror",
                    "rm -rf /opt/move-mirror /usr/local/bin/kiosk /etc/move-mirror /var/lib/move-mirror",
                    "systemctl enable getty@tty1.service", "userdel mirror"):
        assert removed in result.stdout, removed
    assert "pip install" not in result.stdout  # it uninstalls only
    assert not calls.exists() or not calls.read_text().strip()
