"""scripts/apt_constraints.py: apt's numpy and picamera2's apt closure pinned, unless the kiosk needs newer.

A fake dist-packages holds .dist-info metadata as apt's packages install it (the real install is
tests/system: bookworm's numpy 1.24.2 kept in the venv).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
SCRIPT = CHECKOUT / "scripts" / "apt_constraints.py"


def dist(site: Path, name: str, version: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"]
    lines += [f"Requires-Dist: {r}\n" for r in requires]
    (info / "METADATA").write_text("".join(lines))


def constraints(site: Path, extras: str = "video,display,systemd") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(CHECKOUT / "pyproject.toml"), extras,
                           "--dist-packages", str(site)], capture_output=True, text=True, check=True)


def test_pins_numpy_and_picamera2s_closure(tmp_path: Path) -> None:
    site = tmp_path / "dist-packages"
    dist(site, "numpy", "1.24.2")
    dist(site, "picamera2", "0.3.19", "numpy", "PiDNG", "simplejpeg", "av", "tqdm; extra == 'gui'")
    dist(site, "PiDNG", "4.0.9", "numpy")
    dist(site, "simplejpeg", "1.6.6")
    dist(site, "av", "10.0.0")
    dist(site, "tqdm", "4.64.1")
    dist(site, "requests", "2.28.1")  # apt's, but nothing picamera2 needs: pip may do as it likes
    result = constraints(site)
    pins = [line for line in result.stdout.splitlines() if not line.startswith("#")]
    assert pins == ["numpy==1.24.2", "picamera2==0.3.19", "pidng==4.0.9", "simplejpeg==1.6.6"]
    # The kiosk's video extra needs av>=11: not pinned, and said so on stderr and in the file.
    assert "not kept: the kiosk needs av>=11, apt has av 10.0.0" in result.stderr
    assert "# not kept: the kiosk needs av>=11" in result.stdout


def test_without_picamera2_only_numpy(tmp_path: Path) -> None:
    site = tmp_path / "dist-packages"
    dist(site, "numpy", "1.24.2")
    dist(site, "PyYAML", "6.0")
    pins = [line for line in constraints(site).stdout.splitlines() if not line.startswith("#")]
    assert pins == ["numpy==1.24.2"]


def test_no_apt_numpy_no_pins(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    pins = [line for line in constraints(tmp_path / "empty").stdout.splitlines() if not line.startswith("#")]
    assert pins == []
