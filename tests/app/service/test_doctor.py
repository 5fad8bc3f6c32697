"""kiosk doctor: each check on fake device trees, and the command on this (camera-less) machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.app.service import doctor
from kiosk.app.service.config import parse_config
from kiosk.app.service.doctor import FAIL, OK, WARN


def levels(checks: list[doctor.Check]) -> list[str]:
    return [c.level for c in checks]


def test_camera_replay_and_webcam(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    ok = doctor.check_camera(parse_config({"camera": {"source": f"replay:{clip}"}}), dev=dev)
    assert levels(ok) == [OK]
    nope = parse_config({"camera": {"source": f"replay:{tmp_path}/nope.mp4"}})
    missing = doctor.check_camera(nope, dev=dev)
    assert levels(missing) == [FAIL] and "does not exist" in missing[0].message
    webcam = doctor.check_camera(parse_config({"camera": {"source": "webcam:1"}}), dev=dev)
    assert webcam[0].level == FAIL and "video1" in webcam[0].message and webcam[0].fix
    (dev / "video1").touch()
    webcam = doctor.check_camera(parse_config({"camera": {"source": "webcam:1"}}), dev=dev)
    assert webcam[0].level == OK


def test_camera_picamera2(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    config = parse_config({})
    none_listed = doctor.check_camera(config, dev=dev, libcamera=[])
    assert any(c.level == FAIL and "libcamera lists no camera" in c.message for c in none_listed)
    assert any("ribbon cable" in c.fix for c in none_listed)
    (dev / "video0").touch()
    listed = doctor.check_camera(config, dev=dev, libcamera=["0 : imx708 [4608x2592] (/base/...)"])
    assert any(c.level == OK and "imx708" in c.message for c in listed)
    no_tools = doctor.check_camera(config, dev=dev, libcamera=None)
    assert any(c.level == WARN and "rpicam-apps" in c.fix for c in no_tools)


def test_models_present_and_checksums(use_models_dir: Path, tmp_path: Path) -> None:
    movenet = parse_config({"model": {"name": "movenet-lightning"}})
    good = doctor.check_models(movenet, use_models_dir)
    assert levels(good) == [OK, OK]
    assert "sha256" in good[0].message
    bad_dir = tmp_path / "models"
    bad_dir.mkdir()
    for f in use_models_dir.iterdir():
        if f.name.startswith("movenet"):
                data = f.read_bytes()
                (bad_dir / f.name).write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # a flipped byte
    bad = doctor.check_models(movenet, bad_dir)
    cpu = next(c for c in bad if "(cpu)" in c.message)
    assert cpu.level == FAIL and "does not match" in cpu.message and "kiosk models fetch" in cpu.fix
    tpu = next(c for c in bad if "(edgetpu)" in c.message)
    assert tpu.level == WARN  # delegate auto: the Edge TPU file is optional
    empty = doctor.check_models(parse_config({"model": {"delegate": "edgetpu", "name": "movenet-lightning"}}),
                                tmp_path / "empty")
    assert levels(empty) == [FAIL, FAIL]
    unknown = doctor.check_models(parse_config({"model": {"name": "nope"}}), use_models_dir)
    assert levels(unknown) == [FAIL]


def test_delegate_and_coral_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_EDGETPU_LIB", "/nonexistent/libedgetpu.so.1")
    dev, usb = tmp_path / "dev", tmp_path / "usb"
    dev.mkdir()
    usb.mkdir()
    auto = doctor.check_delegate(parse_config({}), dev=dev, sys_usb=usb)
    assert auto[0].level == OK  # an interpreter is installed
    assert [c.level for c in auto[1:]] == [WARN, WARN]
    assert "falls back to the CPU" in auto[1].message
    strict = doctor.check_delegate(parse_config({"model": {"delegate": "edgetpu"}}), dev=dev, sys_usb=usb)
    assert [c.level for c in strict[1:]] == [FAIL, FAIL]
    cpu = doctor.check_delegate(parse_config({"model": {"delegate": "cpu"}}), dev=dev, sys_usb=usb)
    assert levels(cpu) == [OK, OK]
    coral = usb / "2-1"
    coral.mkdir()
    (coral / "idVendor").write_text("18d1\n")
    (coral / "idProduct").write_text("9302\n")
    (dev / "apex_0").touch()
    found = doctor.coral_devices(dev, usb)
    assert found == [str(dev / "apex_0"), "USB 18d1:9302 (2-1)"]


def test_index(tmp_path: Path) -> None:
    missing = doctor.check_index(parse_config({"index": {"path": str(tmp_path / "nope")}}))
    assert levels(missing) == [FAIL] and "scripts/deploy.sh" in missing[0].fix
    (tmp_path / "junk").mkdir()
    junk = doctor.check_index(parse_config({"index": {"path": str(tmp_path / "junk")}}))
    assert levels(junk) == [FAIL] and "kiosk index verify" in junk[0].fix


def test_the_model_must_fit_the_index(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / "manifest.json").write_text(json.dumps({"index_id": "x", "model": {"name": "posenet-481x641"}}))
    config = {"index": {"path": str(index)}}
    fits = doctor.check_model_fits_index(parse_config(config))
    assert levels(fits) == [OK] and "posenet-481x641" in fits[0].message
    assert doctor.model_choice(parse_config(config)).name == "posenet-481x641"  # what kiosk run loads
    other = doctor.check_model_fits_index(parse_config({**config, "model": {"name": "movenet-lightning"}}))
    assert levels(other) == [WARN] and "posenet-481x641" in other[0].message and "model.name" in other[0].fix
    assert doctor.check_model_fits_index(parse_config({"index": {"path": str(tmp_path / "none")}})) == []


def test_display(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    (dev / "dri").mkdir(parents=True)
    no_card = doctor.check_display({"SDL_VIDEODRIVER": "kmsdrm"}, dev=dev)
    assert no_card[1].level == FAIL and "vc4-kms-v3d" in no_card[1].fix
    (dev / "dri" / "card1").touch()
    card = doctor.check_display({"SDL_VIDEODRIVER": "kmsdrm"}, dev=dev)
    assert card[1].level == OK and "card1" in card[1].message
    dummy = doctor.check_display({"SDL_VIDEODRIVER": "dummy"}, dev=dev)
    assert dummy[1].level == WARN
    x11 = doctor.check_display({"DISPLAY": ":0"}, dev=dev)
    assert x11[1].level == OK


def test_groups() -> None:
    existing = {"video", "render", "input", "plugdev", "mirror"}
    everything = {"mirror", "video", "render", "input", "plugdev"}
    ok = doctor.check_groups("mirror", groups_of={"mirror": everything}, existing=existing)
    assert levels(ok) == [OK] * 4
    missing = doctor.check_groups("mirror", groups_of={"mirror": {"mirror", "video"}}, existing=existing)
    assert levels(missing) == [OK, FAIL, FAIL, FAIL]
    assert "usermod -aG render mirror" in missing[1].fix
    no_coral = doctor.check_groups("mirror", coral=False, groups_of={"mirror": {"video", "render", "input"}},
                                   existing=existing)
    assert levels(no_coral) == [OK] * 3
    no_user = doctor.check_groups("ghost", groups_of={}, existing=existing)
    assert levels(no_user) == [FAIL]
    no_group = doctor.check_groups("mirror", groups_of={"mirror": set()}, existing={"video", "input"})
    assert any(c.level == WARN and "'render' group" in c.message for c in no_group)


def test_the_command(use_models_dir: Path, tmp_path: Path) -> None:
    """On this machine (no camera, no screen, no index): non-zero, and every line says what to fix."""
    config = tmp_path / "k.yaml"
    config.write_text(f"index:\n  path: {tmp_path / 'none'}\n")
    env = {**os.environ, "KIOSK_MODELS_DIR": str(use_models_dir), "SDL_VIDEODRIVER": "dummy"}
    result = subprocess.run([sys.executable, "-m", "kiosk", "doctor", "--config", str(config), "--json"],
                            capture_output=True, text=True, timeout=300, check=False, env=env)
    assert result.returncode == 1, result.stderr
    checks = json.loads(result.stdout)
    areas = {c["area"] for c in checks}
    assert {"config", "camera", "model", "delegate", "index", "display", "groups"} <= areas
    assert all(c["fix"] for c in checks if c["level"] != OK)
    assert any(c["area"] == "index" and c["level"] == FAIL for c in checks)
    assert any(c["area"] == "model" and c["level"] == OK for c in checks)
    text = subprocess.run([sys.executable, "-m", "kiosk", "doctor", "--config", str(config)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)
    assert text.returncode == 1
    assert "FAIL  index" in text.stdout and "fix: " in text.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera: {source: usb}\n")
    broken = subprocess.run([sys.executable, "-m", "kiosk", "doctor", "--config", str(bad)],
                            capture_output=True, text=True, timeout=300, check=False, env=env)
    assert broken.returncode == 1 and "camera.source" in broken.stderr
