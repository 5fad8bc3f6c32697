"""A new user's first steps: quiet INFO (not WARNING) without an Edge TPU, deploy.sh finds the
checkout's kiosk when it is not on PATH, and the README shows how to put `kiosk` on PATH."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
from pathlib import Path

import pytest

from kiosk.cli.main import main
from kiosk.pose.runtime import EDGETPU_LIB

CHECKOUT = Path(__file__).resolve().parents[2]
IMAGE = "data/posenet-demo-images/frisbee.jpg"


def _has_edgetpu_runtime() -> bool:
    try:
        ctypes.CDLL(EDGETPU_LIB)
    except OSError:
        return False
    return True


@pytest.mark.parametrize("argv", [
    "pose {image} --model movenet-lightning",
    "compare {image} {image} --model movenet-lightning",
])
def test_no_edge_tpu_is_an_info_line_under_auto(argv: str, shared_dir: Path, use_models_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    if _has_edgetpu_runtime():
        pytest.fail(f"this test needs a machine without {EDGETPU_LIB}")
    assert main(argv.format(image=shared_dir / IMAGE).split()) == 0
    err = capsys.readouterr().err
    assert "INFO kiosk.pose.runtime: Edge TPU delegate failed to load" in err
    assert "WARNING" not in err


def test_deploy_finds_the_checkouts_kiosk_without_path(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / "manifest.json").write_text(json.dumps({"index_id": "x1"}))  # fails verification
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}  # no .venv/bin
    out = subprocess.run(["bash", str(CHECKOUT / "scripts/deploy.sh"), str(index), "nohost.invalid"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2
    assert "command not found" not in out.stderr
    assert f"('{CHECKOUT}/.venv/bin/kiosk index verify')" in out.stderr
    assert "no manifest_sha256 field" in out.stderr  # the checkout's kiosk really ran


def test_readme_shows_how_to_get_kiosk_on_path() -> None:
    text = (CHECKOUT / "README.md").read_text()
    assert ". .venv/bin/activate" in text
