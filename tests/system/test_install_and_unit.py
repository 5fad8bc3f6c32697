"""scripts/install.sh for real in Debian bookworm, and the shipped unit under a booted systemd 252.

In one container (tests/system/conftest.py), in this order:
    install.sh runs for real (--no-apt: the rootfs already has Debian's share of its apt list;
    picamera2/libcamera exist only in Raspberry Pi's archive); the venv's numpy is apt's;
    an index is built and deployed by the installed kiosk; the camera is set to a replay of the
    shared recording in /etc/move-mirror/kiosk.yaml (as an operator would); `kiosk doctor` passes;
    the unit reaches READY; a good reload returns 0 and a refused one non-zero, with the reason at
    error priority in the journal; a stalled loop (SIGSTOP) is killed by the watchdog and restarted;
    a second install.sh upgrades and keeps the config and the index; a clean stop; `install.sh
    --uninstall` leaves the files, users and groups as they were before the install.
The only test drop-in replaces what a container lacks: tty1 and a screen (SDL's dummy driver).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest

from tests.system.conftest import GUEST_SHARED, GUEST_SRC
from tests.system.container import Container

pytestmark = pytest.mark.system

UNIT = "move-mirror.service"
KIOSK = "/opt/move-mirror/venv/bin/kiosk"
CONFIG = "/etc/move-mirror/kiosk.yaml"
INDEX_ROOT = "/var/lib/move-mirror/index"
REPLAY = f"{GUEST_SHARED}/data/recordings/pose_squats.mp4"
PHOTOS = f"{GUEST_SHARED}/data/posenet-demo-images"
KIOSK_ENV = {"KIOSK_MODELS_DIR": "/var/lib/move-mirror/models", "KIOSK_CACHE_DIR": "/var/cache/move-mirror",
             "KIOSK_INDEX_ROOT": INDEX_ROOT, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
DROP_IN = """\
# Test only: what a container lacks. There is no tty1 (kmsdrm's VT) and no screen.
[Service]
TTYPath=
StandardInput=null
TTYReset=no
TTYVHangup=no
TTYVTDisallocate=no
Environment=SDL_VIDEODRIVER=dummy
"""
INSTALL = f"{GUEST_SRC}/scripts/install.sh --no-apt --mirror {GUEST_SHARED}"
#: Every path of the system (less what booting, logging and the test itself change), users, groups.
SNAPSHOT = ("find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp "
            "-o -path /var/tmp -o -path /var/log -o -path /root/.cache -o -path /srv "
            "-o -path /var/lib/systemd -o -path /var/cache/ldconfig \\) -prune "
            "-o -print | LC_ALL=C sort; getent passwd; getent group; ls /run")


def show(box: Container, *props: str) -> dict[str, str]:
    out = box.run(["systemctl", "show", UNIT, *(f"--property={p}" for p in props)]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def status(box: Container) -> dict[str, object]:
    return json.loads(box.run(["cat", "/run/move-mirror/status.json"]).stdout)


def journal(box: Container, *args: str) -> str:
    return box.run(["journalctl", "-u", UNIT, "--no-pager", "-o", "cat", *args]).stdout


def wait_for(what: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def installed(container: Container) -> Container:
    box = container
    box.before_install = box.run(SNAPSHOT).stdout  # type: ignore[attr-defined]
    result = box.run(f"{INSTALL} 2>&1", timeout=1800)
    box.install_log = result.stdout  # type: ignore[attr-defined]
    # An index built and deployed by the installed kiosk (as the service user, as deploys are).
    box.run(f"{KIOSK} index build {PHOTOS} -o {INDEX_ROOT}/releases/r1 "
            "--model movenet-lightning --quiet", user="mirror", env=KIOSK_ENV,
            timeout=900)
    box.run(f"cp -a {INDEX_ROOT}/releases/r1 {INDEX_ROOT}/releases/r2 && "
            f"ln -sfn releases/r1 {INDEX_ROOT}/current", user="mirror")
    # The operator's camera choice: a replay of the shared recording (there is no camera here).
    box.run(["sed", "-i", f"s|^  source: picamera2 |  source: replay:{REPLAY} |", CONFIG])
    drop_in = f"/etc/systemd/system/{UNIT}.d/test-container.conf"
    box.run(f"mkdir -p {drop_in.rsplit('/', 1)[0]} && cat > {drop_in} <<'EOF'\n{DROP_IN}EOF\n"
            "systemctl daemon-reload")
    return box


def test_install_keeps_apts_numpy(installed: Container) -> None:
    box = installed
    log = box.install_log  # type: ignore[attr-defined]
    apt_numpy = box.run(["dpkg-query", "-W", "-f=${Version}", "python3-numpy"]).stdout
    assert re.search(r"numpy==(\d+\.\d+\.\d+)", log), log[-3000:]
    venv = box.run(["/opt/move-mirror/venv/bin/python", "-c", "import numpy, ml_dtypes; "
                    "print(numpy.__version__, numpy.__file__, ml_dtypes.__version__)"])
    version, path, ml_dtypes = venv.stdout.split()
    assert apt_numpy.split(":")[-1].startswith(f"{version}-"), (apt_numpy, version)  # 1:1.24.2-1+deb12u1
    assert path.startswith("/usr/lib/python3/dist-packages/numpy/"), path
    assert ml_dtypes  # LiteRT's ml_dtypes imports beside apt's numpy (0.5.x accepts numpy 1.x)
    assert box.run(["/opt/move-mirror/venv/bin/python", "-m", "pip", "check"], check=False).returncode == 0
    assert box.run(["systemctl", "is-enabled", UNIT]).stdout.strip() == "enabled"


def test_doctor_passes(installed: Container) -> None:
    result = installed.run([KIOSK, "doctor"], env=KIOSK_ENV, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"replay source {REPLAY} exists" in result.stdout
    assert "index" in result.stdout and "FAIL" not in result.stdout


def test_unit_starts_and_is_ready(installed: Container) -> None:
    box = installed
    box.run(["systemctl", "start", UNIT], timeout=180)  # Type=notify: returns at READY=1
    props = show(box, "ActiveState", "SubState", "StatusText", "MainPID")
    assert (props["ActiveState"], props["SubState"]) == ("active", "running"), props
    assert "running: index" in props["StatusText"], props
    data = status(box)
    assert data["pid"] == int(props["MainPID"]) and data["state"] in ("running", "idle")
    assert box.run([KIOSK, "status", "--config", CONFIG], check=False).returncode == 0
    # The hardening is in force on the running kiosk, not only written in the unit.
    proc = dict(line.split(":", 1) for line in
                box.run(["cat", f"/proc/{props['MainPID']}/status"]).stdout.splitlines() if ":" in line)
    assert int(proc["CapBnd"].strip(), 16) == 0 and int(proc["CapEff"].strip(), 16) == 0, proc
    assert proc["NoNewPrivs"].strip() == "1" and proc["Seccomp"].strip() == "2", proc
    user = box.run(["ps", "-o", "user=", "-p", props["MainPID"]]).stdout.strip()
    assert user == "mirror"


def test_reload_waits_and_reports_the_outcome(installed: Container) -> None:
    box = installed
    before = status(box)
    box.run(["ln", "-sfn", "releases/r2", f"{INDEX_ROOT}/current"], user="mirror")
    good = box.run(["systemctl", "reload", UNIT], check=False, timeout=150)
    assert good.returncode == 0, good.stderr
    after = status(box)  # written before systemctl returned: the reload had happened
    assert after["reload_generation"] == before["reload_generation"] + 1
    assert after["reload_outcome"] == "applied" and str(after["index_path"]).endswith("/releases/r2")

    config = box.run(["cat", CONFIG]).stdout
    box.run(f"sed -i 's/^  layout: .*/  layout: grid/' {CONFIG}")
    try:
        bad = box.run(["systemctl", "reload", UNIT], check=False, timeout=150)
    finally:
        box.run(f"cat > {CONFIG} <<'EOF'\n{config}EOF\n")
    assert bad.returncode != 0, "a refused reload must fail systemctl reload"
    refused = status(box)
    assert refused["reload_outcome"] == "refused" and "display.layout" in str(refused["last_error"])
    assert show(box, "ActiveState")["ActiveState"] == "active"  # the old config keeps serving
    errors = journal(box, "-p", "err")
    # The kiosk's refusal (one entry, with the key path) and ExecReload's verdict, at error priority.
    assert "reload refused, keeping the running configuration: /etc/move-mirror/kiosk.yaml" in errors
    assert "display.layout" in errors, errors[-2000:]
    assert "reload refused: reload refused, keeping" in errors  # `kiosk reload`'s verdict on it
    assert "kiosk running" not in errors  # info stays info
    assert "kiosk running" in journal(box, "-p", "info")


def test_stalled_loop_is_killed_by_the_watchdog_and_restarted(installed: Container) -> None:
    box = installed
    before = show(box, "MainPID", "NRestarts")
    box.run(["kill", "-STOP", before["MainPID"]])

    def restarted() -> bool:
        now = show(box, "MainPID", "NRestarts", "ActiveState", "SubState")
        return (now["NRestarts"] != before["NRestarts"] and now["MainPID"] not in ("0", before["MainPID"])
                and (now["ActiveState"], now["SubState"]) == ("active", "running"))

    wait_for("the watchdog to kill and systemd to restart the kiosk", restarted, timeout=150)
    assert "Watchdog timeout" in journal(box, "-p", "err")
    assert status(box)["pid"] == int(show(box, "MainPID")["MainPID"])


def test_second_install_upgrades_and_keeps_config_and_index(installed: Container) -> None:
    box = installed
    marker = "# kept across upgrades (system test)\n"
    box.run(f"echo '{marker.strip()}' >> {CONFIG}")
    log = box.run(f"{INSTALL} 2>&1", timeout=1800).stdout
    assert f"keeping {CONFIG}" in log
    config = box.run(["cat", CONFIG]).stdout
    assert marker in config and f"replay:{REPLAY}" in config
    assert box.run(["readlink", f"{INDEX_ROOT}/current"]).stdout.strip() == "releases/r2"
    assert box.run(["test", "-f", f"{INDEX_ROOT}/releases/r1/manifest.json"], check=False).returncode == 0
    path = box.run(["/opt/move-mirror/venv/bin/python", "-c", "import numpy; print(numpy.__file__)"]).stdout
    assert path.startswith("/usr/lib/python3/dist-packages/")
    box.run(["systemctl", "restart", UNIT], timeout=180)
    assert show(box, "SubState")["SubState"] == "running"


def test_clean_stop(installed: Container) -> None:
    box = installed
    box.run(["systemctl", "stop", UNIT], timeout=60)
    props = show(box, "ActiveState", "Result", "ExecMainStatus", "ExecMainCode")
    assert props["ActiveState"] == "inactive" and props["Result"] == "success", props
    assert props["ExecMainStatus"] == "0", props
    assert "stopping on SIGTERM" in journal(box)


def test_uninstall_leaves_nothing_behind(installed: Container) -> None:
    box = installed
    box.run(f"{GUEST_SRC}/scripts/install.sh --uninstall")
    before = box.before_install.splitlines()  # type: ignore[attr-defined]
    after = box.run(SNAPSHOT).stdout.splitlines()
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    assert (added, removed) == ([], []), f"left behind: {added[:40]}; removed: {removed[:40]}"
