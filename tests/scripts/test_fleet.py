"""`kiosk deploy` safety on the real-sshd harness: concurrent deploys, a real full disk (tmpfs),
the deploy SIGKILLed at every step (the kiosk ends on a good release by itself), hostile names,
and the model delivered with the index.

Most hosts here run tests/scripts/fake_kiosk.py as their kiosk *process* (cheap: these tests are
about the release transaction, not the mirror); their `kiosk` command (releases, status, verify)
is the real one. The refused-index case needs the real kiosk and runs on kiosk-a.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.fleet.deploy import PAUSE_POINTS
from kiosk.gallery.releaselayout import PENDING
from kiosk.gallery.releases import ReleaseRoot
from tests.scripts.conftest import HERE, Deploy, Flavor, Index, start_host
from tests.scripts.kiosk_hosts import KioskHost, wait_until

pytestmark = pytest.mark.slow


def _fake_argv(index: Path) -> list[str]:
    return [sys.executable, str(HERE / "fake_kiosk.py"), "run", "--index", str(index)]


@pytest.fixture(scope="module")
def _fast(request, deploy_tmp: Path, client_key: Path, flavor: Flavor, kiosk_env, indexes) -> KioskHost:
    host = KioskHost(name="kiosk-fast", dir=deploy_tmp / "kiosk-fast", client_key=client_key,
                     kiosk_bin=flavor.bin_dir, env=kiosk_env, kiosk_argv=_fake_argv)
    request.addfinalizer(host.stop)
    return start_host(host, indexes, timeout=30)


@pytest.fixture()
def fast(_fast: KioskHost, indexes: dict[str, Index]) -> KioskHost:
    _fast.reset(indexes["A"].path, indexes["A"].id)
    return _fast


@pytest.fixture(scope="module")
def small(request, deploy_tmp: Path, client_key: Path, flavor: Flavor, kiosk_env,
          indexes) -> Iterator[KioskHost]:
    """A kiosk whose index root is a 3 MB tmpfs: a real ENOSPC."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full tests mount a tmpfs: run them as root (scripts/test.sh in CI is)")
    host = KioskHost(name="kiosk-small", dir=deploy_tmp / "kiosk-small", client_key=client_key,
                     kiosk_bin=flavor.bin_dir, env=kiosk_env, kiosk_argv=_fake_argv)
    host.index_root.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "i13-deploy-test", str(host.index_root)],
                   check=True)
    try:
        yield start_host(host, indexes, timeout=30)
    finally:
        host.stop()
        subprocess.run(["umount", "-l", str(host.index_root)], check=False)


def settled(host: KioskHost, index: Index, timeout: float = 30) -> None:
    """The kiosk ends, by itself, on `index`: current names it, nothing pending, serving it,
    and no deploy holds the lock."""
    def done() -> bool:
        return (host.current_target() == f"releases/{index.id}" and not (host.index_root / PENDING).exists()
                and host.serving() == index.id and not ReleaseRoot(host.index_root).session_busy())

    wait_until(done, timeout, f"{host.name} to settle on {index.id} (current -> {host.current_target()})")
    assert (host.current / "manifest.json").is_file()


# ------------------------------------------------------------------ killed at every step
@pytest.mark.parametrize("step", PAUSE_POINTS)
def test_killed_at_every_step_the_kiosk_settles_on_a_good_release(deploy: Deploy, fast: KioskHost,
                                                                  indexes: dict[str, Index],
                                                                  step: str) -> None:
    """SIGKILL of the whole deploy (its ssh master too) at each step. Before the switch nothing
    changed; after it, the kiosk reverts to A at the --confirm-within deadline unless the deploy
    had confirmed B (killed when done)."""
    a, b = indexes["A"], indexes["B"]
    out = deploy.run_and_kill_at(step, "--confirm-within", "5", str(b.path), fast.spec, status_timeout=3)
    assert f"test pause at {step}" in out
    settled(fast, b if step == "done" else a, timeout=30)


def test_unhealthy_switch_killed_during_health_check_reverts(deploy: Deploy, host_a: KioskHost,
                                                             indexes: dict[str, Index]) -> None:
    """The real kiosk never takes B (its reload does nothing) and the deploy dies while it waits:
    the kiosk's dead-man switch returns current to A (and a restart would load A). (An index the kiosk
    would refuse no longer gets this far: `kiosk index verify` and the kiosk's open are one check.)"""
    a, b = indexes["A"], indexes["B"]
    out = deploy.run_and_kill_at("health", "--confirm-within", "6", "--reload-cmd", "true", str(b.path),
                                 host_a.spec, status_timeout=4)
    assert "test pause at health" in out
    settled(host_a, a, timeout=40)
    assert not (host_a.index_root / "previous").exists()  # previous restored too (there was none)


# ------------------------------------------------------------------ two deploys at once
def test_concurrent_deploys_one_waits_or_fails_clearly(deploy: Deploy, fast: KioskHost,
                                                       indexes: dict[str, Index]) -> None:
    a, b, c = indexes["A"], indexes["B"], indexes["C"]
    procs = [subprocess.Popen(deploy.argv(str(i.path), fast.spec), env=deploy.env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
             for i in (b, c)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outs
    loser = outs[[p.returncode for p in procs].index(1)]
    assert "another deploy" in loser, loser
    winner = b if procs[0].returncode == 0 else c
    settled(fast, winner)
    assert os.readlink(fast.index_root / "previous") == f"releases/{a.id}"

    # with --lock-wait the second one waits its turn: both succeed, in some order
    procs = [subprocess.Popen(deploy.argv("--lock-wait", "90", str(i.path), fast.spec), env=deploy.env(),
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True) for i in (a, winner)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    final = fast.current_target()
    assert final in (f"releases/{a.id}", f"releases/{winner.id}")
    assert fast.serving() == Path(final).name


# ------------------------------------------------------------------ a full disk
def _balloon(path: Path) -> None:
    """Fill the file system holding path (ENOSPC ends it)."""
    try:
        with open(path, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    except OSError:
        pass


def test_full_disk_is_refused_up_front_and_cleaned_mid_upload(deploy: Deploy, small: KioskHost,
                                                              indexes: dict[str, Index]) -> None:
    a, b, big = indexes["A"], indexes["B"], indexes["big"]
    small.reset(a.path, a.id)
    # 1. the index cannot fit: refused before any byte is sent, nothing left behind
    proc = deploy.run(str(big.path), small.spec)
    assert proc.returncode == 1 and "not enough disk space" in proc.stdout, proc.stdout
    assert not list(small.releases.glob(".incoming-*"))
    settled(small, a)

    # 2. the disk fills up during the upload (a real ENOSPC): the partial upload is removed
    log = deploy.tmp / "enospc.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(deploy.argv("--test-pause-at", "upload", "--test-pause-seconds", "3",
                                            str(b.path), small.spec), env=deploy.env(), stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True, text=True)
    wait_until(lambda: "test pause at upload" in log.read_text(), 60, "the upload to pause")
    balloon = small.index_root / "balloon"
    _balloon(balloon)
    assert proc.wait(timeout=60) == 1
    text = log.read_text()
    assert "disk is full" in text and "partial upload was removed" in text, text
    assert not list(small.releases.glob(".incoming-*"))
    settled(small, a)

    # 3. an abandoned upload filling the disk does not block the next deploy
    balloon.unlink()
    abandoned = small.releases / ".incoming-0123456789abcdef"
    abandoned.mkdir()
    _balloon(abandoned / "half-a-file")
    proc = deploy.run(str(b.path), small.spec)
    assert proc.returncode == 0, proc.stdout
    assert not abandoned.exists()
    settled(small, b)


# ------------------------------------------------------------------ hostile names
HOSTILE = "evil\n$(touch PWNED-1)`touch PWNED-2`;touch PWNED-3 'q\" *"


def test_hostile_index_dir_and_index_root_never_reach_a_shell(deploy: Deploy, fast: KioskHost,
                                                              indexes: dict[str, Index],
                                                              tmp_path: Path) -> None:
    b = indexes["B"]
    evil = tmp_path / HOSTILE
    shutil.copytree(b.path, evil)
    proc = deploy.run(str(evil), fast.spec)
    assert proc.returncode == 0, proc.stdout
    settled(fast, b)
    # an index root with the same name on the kiosk: the upload, verify and switch land there
    # (the kiosk serves B from its own root, so the health check for C fails and is reverted)
    c, evil_c = indexes["C"], tmp_path / f"C {HOSTILE}"
    shutil.copytree(c.path, evil_c)
    root = fast.dir / HOSTILE
    proc = deploy.run("--index-root", str(root), "--confirm-within", "30", str(evil_c), fast.spec,
                      status_timeout=2)
    assert proc.returncode == 1 and "health check" in proc.stdout, proc.stdout
    assert (root / "releases" / c.id / "manifest.json").is_file()
    assert not (root / "current").exists()
    for where in (Path.cwd(), fast.dir, tmp_path, Path.home(), deploy.tmp):
        assert not list(where.glob("PWNED*")), where


# ------------------------------------------------------------------ the model comes with the index
def test_the_model_the_index_names_is_delivered_and_verified(deploy: Deploy, fast: KioskHost,
                                                             indexes: dict[str, Index],
                                                             tmp_path: Path) -> None:
    b, c = indexes["B"], indexes["C"]
    remote_models = tmp_path / "kiosk-models"  # a kiosk without the model
    plan = deploy.run("--dry-run", "--models-dir", str(remote_models), str(b.path), fast.spec)
    assert plan.returncode == 0 and "would upload the model" in plan.stdout
    assert not remote_models.exists()  # a dry run writes nothing
    proc = deploy.run("--models-dir", str(remote_models), str(b.path), fast.spec)
    assert proc.returncode == 0, proc.stdout
    assert "uploading the model" in proc.stdout and "verified on the host" in proc.stdout
    model = json.loads((b.path / "manifest.json").read_text())["model"]
    from kiosk.core.checksum import sha256_file
    from kiosk.gallery.delivery import find_model

    found = find_model(model["name"], model["sha256"], remote_models)
    assert found is not None and sha256_file(remote_models / found.files[0]) == model["sha256"]
    assert not (remote_models / ".incoming-model").exists()
    # already there: not sent again
    again = deploy.run("--models-dir", str(remote_models), str(c.path), fast.spec)
    assert again.returncode == 0 and "uploading the model" not in again.stdout
    settled(fast, c)


def test_json_results_and_a_host_that_is_down(deploy: Deploy, fast: KioskHost,
                                              indexes: dict[str, Index]) -> None:
    from tests.scripts.kiosk_hosts import free_port

    down = f"127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    proc = deploy.run("--json", str(indexes["B"].path), fast.spec, down)
    assert time.monotonic() - t0 < 60
    assert proc.returncode == 1
    rows = {r["host"]: r for r in json.loads(proc.stdout)}
    assert rows[fast.spec]["result"] == "ok" and rows[fast.spec]["current"] == f"releases/{indexes['B'].id}"
    assert rows[down]["result"] == "FAILED" and "unreachable" in rows[down]["detail"]
    settled(fast, indexes["B"])


# ------------------------------------------------------------------ fleet status
def test_fleet_status_table_and_json(deploy: Deploy, host_a: KioskHost, fast: KioskHost,
                                     indexes: dict[str, Index], flavor: Flavor) -> None:
    from tests.scripts.kiosk_hosts import free_port, ssh_client_options

    down = f"127.0.0.1:{free_port()}"
    def measured() -> bool:  # this kiosk process's status (not a stale file), with a pose rate
        st = host_a.status()
        return st.get("pid") == host_a.kiosk.pid and st.get("index_id") == indexes["A"].id \
            and (st.get("pose_rate") or 0) > 0

    wait_until(measured, 60, "a measured pose rate")
    base = [str(flavor.bin_dir / "kiosk"), "fleet", "status", *ssh_client_options(deploy.client_key),
            "--connect-timeout", "3", "--remote-kiosk", str(flavor.bin_dir / "kiosk")]
    proc = subprocess.run([*base, "--json", host_a.spec, fast.spec, down], env=deploy.env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr  # one host is down
    rows = {r["host"]: r for r in json.loads(proc.stdout)}
    a = rows[host_a.spec]
    assert a["ok"] and a["index_id"] == indexes["A"].id and a["current"] == indexes["A"].id
    assert a["state"] in ("running", "idle") and a["model"] and a["delegate"] == "cpu"
    assert a["fps"] > 0 and a["pose_rate"] > 0 and a["kiosk_uptime_s"] >= 0 and a["last_deploy"]
    assert rows[down]["state"] == "unreachable" and "unreachable" in rows[down]["last_error"]
    table = subprocess.run([*base, host_a.spec], env=deploy.env(), capture_output=True, text=True,
                           timeout=60)
    assert table.returncode == 0, table.stderr
    head, row = table.stdout.splitlines()[:2]
    assert head.split()[:6] == ["HOST", "INDEX", "CONFIG", "MODEL", "DELEGATE", "STATE"]
    assert row.startswith(host_a.spec) and indexes["A"].id in row


def test_fleet_screenshot_blanks_the_camera(deploy: Deploy, host_a: KioskHost, flavor: Flavor,
                                            tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from tests.scripts.kiosk_hosts import ssh_client_options

    base = [str(flavor.bin_dir / "kiosk"), "fleet", "screenshot", *ssh_client_options(deploy.client_key),
            "--remote-kiosk", str(flavor.bin_dir / "kiosk"), host_a.spec]
    shots = {}
    for name, extra in (("blanked", []), ("camera", ["--include-camera"])):
        out = tmp_path / f"{name}.png"
        proc = subprocess.run([*base, "-O", str(out), *extra], env=deploy.env(), capture_output=True,
                              text=True, timeout=90)
        assert proc.returncode == 0, proc.stderr
        shots[name] = np.asarray(Image.open(out).convert("RGB"))
    w = shots["blanked"].shape[1]
    assert shots["blanked"][:, : w // 2].max() == 0  # side by side: the camera is the left half
    assert shots["camera"][:, : w // 2].std() > 5

