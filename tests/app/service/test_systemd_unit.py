"""systemd/move-mirror.service: `systemd-analyze verify` passes, and the unit says what the kiosk needs.

`systemd-analyze verify` checks that every ExecStart= binary exists and is executable. The unit's
/opt/move-mirror/venv/bin/kiosk exists only on a provisioned Pi (scripts/install.sh makes it), so
the test verifies a temporary copy whose ExecStart= names this machine's `kiosk` (or python3)
instead; nothing else is changed. (The `mirror` user need not exist: verify does not resolve User=.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[3]
UNIT = CHECKOUT / "systemd" / "move-mirror.service"
INSTALLED_KIOSK = "/opt/move-mirror/venv/bin/kiosk"


def systemd_analyze() -> str:
    exe = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if not Path(exe).exists():
        pytest.fail("systemd-analyze is needed: apt-get install systemd (scripts/test.sh does it as root)")
    return exe


def local_copy(tmp_path: Path, text: str | None = None) -> Path:
    text = UNIT.read_text() if text is None else text
    local = shutil.which("kiosk")
    exec_start = local if local else f"{sys.executable} -m kiosk"
    assert INSTALLED_KIOSK in text
    dest = tmp_path / "move-mirror.service"
    dest.write_text(text.replace(INSTALLED_KIOSK, exec_start))
    return dest


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([systemd_analyze(), "verify", "--man=no", "--generators=no", str(unit)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=unit.parent)


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    result = verify(local_copy(tmp_path))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    # verify only warns (exit 0) about unknown keys and bad values: any line about our unit fails.
    assert "move-mirror.service" not in output, output


def test_the_check_catches_mistakes(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("WatchdogSec=", "WatchdogSecs=")
    result = verify(local_copy(tmp_path, broken))
    assert "Unknown key" in result.stdout + result.stderr


def test_unit_has_what_the_kiosk_needs() -> None:
    text = UNIT.read_text()
    d = directives(text)
    one = {k: v[-1] for k, v in d.items()}
    assert one["Type"] == "notify"
    assert one["NotifyAccess"] == "main"
    assert int(one["WatchdogSec"]) > 0
    assert one["Restart"] == "always"
    # reload waits for the kiosk's outcome (kiosk reload: tests/cli/test_reload_cmd.py, tests/system)
    reload = f"{INSTALLED_KIOSK} reload --config /etc/move-mirror/kiosk.yaml --pid $MAINPID"
    assert one["ExecReload"] == reload
    assert one["ExecStart"].startswith(INSTALLED_KIOSK + " run")
    assert one["User"] == "mirror"
    assert {"video", "render", "input", "plugdev"} <= set(one["SupplementaryGroups"].split())
    assert one["TTYPath"] == "/dev/tty1"
    assert one["StandardInput"] == "tty-fail"
    assert "getty@tty1.service" in one["Conflicts"]
    assert "SDL_VIDEODRIVER=kmsdrm" in d["Environment"]
    assert one["RuntimeDirectory"] == "move-mirror"
    assert one["StateDirectory"] == "move-mirror"
    # Hardening that still lets the devices through.
    assert "PrivateDevices" not in d
    assert one["DevicePolicy"] == "closed"
    allowed = " ".join(d["DeviceAllow"])
    for device in ("char-drm", "char-video4linux", "char-media", "/dev/vchiq", "char-dma_heap", "char-input",
                   "/dev/apex_0", "char-usb_device"):
        assert device in allowed, device
    assert one["ProtectSystem"] == "strict"
    assert one["NoNewPrivileges"] == "yes"
    assert one["ProtectHome"] == "yes"
    writable = set(one["ReadWritePaths"].split())
    assert writable == {"/run/move-mirror", "/var/lib/move-mirror", "/var/cache/move-mirror"}
    # numba (cache=True) must have a writable cache: its default sits beside the read-only sources.
    env = dict(e.split("=", 1) for e in d["Environment"])
    assert any(env["NUMBA_CACHE_DIR"].startswith(w + "/") for w in writable)
    assert re.search(r"^StartLimitBurst=\d+", text, re.M)


def security_exposure(unit: Path) -> float:
    result = subprocess.run([systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit)],
                            capture_output=True, text=True, timeout=120, check=False, cwd=unit.parent)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


def test_security_exposure_is_at_most_3(tmp_path: Path) -> None:
    assert security_exposure(local_copy(tmp_path)) <= 3.0
    # The score is real: without the capability and system-call limits it is worse.
    loose = "\n".join(line for line in UNIT.read_text().splitlines()
                      if not line.startswith(("CapabilityBoundingSet", "SystemCallFilter", "ProtectProc")))
    assert security_exposure(local_copy(tmp_path, loose + "\n")) > security_exposure(local_copy(tmp_path))


def test_every_hardening_directive_is_commented() -> None:
    """Each directive after the hardening header sits in a block whose comment says what it protects."""
    lines = UNIT.read_text().split("[Install]")[0].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# ---- Hardening"))
    commented = False
    for line in lines[start + 1:]:
        if not line.strip():
            commented = False
        elif line.startswith("#"):
            commented = True
        else:
            assert commented, f"no comment says what {line!r} protects"


def test_install_script_installs_this_unit() -> None:
    script = (CHECKOUT / "scripts" / "install.sh").read_text()
    assert "systemd/move-mirror.service" in script
    assert INSTALLED_KIOSK.rsplit("/bin/", 1)[0] in script  # the venv ExecStart names
