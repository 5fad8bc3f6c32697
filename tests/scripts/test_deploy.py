"""scripts/deploy.sh against real servers on this machine: an OpenSSH server per kiosk host on
127.0.0.1, a kiosk process per host as the reload target, real rsync.

Every fault scenario ends with the same check: the kiosk still serves the old index and
`current` still points at the old, complete release.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scripts.conftest import Deploy, Index
from tests.scripts.kiosk_hosts import KioskHost, free_port, make_client_key, wait_until

pytestmark = pytest.mark.slow


def assert_intact(host: KioskHost, index: Index) -> None:
    """The old index is serving and `current` is intact (a symlink to the complete old release)."""
    assert host.current.is_symlink(), "current must stay a symlink"
    assert host.current_target() == f"releases/{index.id}"
    assert (host.current / "manifest.json").is_file()
    assert host.kiosk_alive()
    host.wait_serving(index.id, timeout=20)


def assert_no_strays(host: KioskHost) -> None:
    names = {p.name for p in host.index_root.iterdir()}
    assert not names & {".current.new", ".previous.new"}, names


# ------------------------------------------------------------------ happy path, rollback, keep
def test_happy_path_switches_and_kiosk_serves_new_index(deploy: Deploy, host_a: KioskHost,
                                                        indexes: dict[str, Index]) -> None:
    a, b = indexes["A"], indexes["B"]
    (b.path / "manifest.json").chmod(0o600)  # a curator's private file must still reach the kiosk user
    proc = deploy.run(str(b.path), host_a.spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert host_a.current_target() == f"releases/{b.id}"
    release = host_a.releases / b.id
    assert (release / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert (release / "renditions").stat().st_mode & 0o777 == 0o755
    assert os.readlink(host_a.index_root / "previous") == f"releases/{a.id}"
    host_a.wait_serving(b.id, timeout=5)  # the health check already waited for it
    assert host_a.status()["state"] in ("running", "idle")
    assert not (host_a.releases / f".incoming-{b.id}").exists()
    assert_no_strays(host_a)
    assert "ok" in proc.stdout and host_a.spec in proc.stdout  # the summary table

    # deploying the same index again is a no-op that still checks the kiosk
    again = deploy.run(str(b.path), host_a.spec)
    assert again.returncode == 0 and "already current" in again.stdout

    # --rollback returns to the previous release on demand (--dry-run first: only says so)
    plan = deploy.run("--dry-run", "--rollback", host_a.spec)
    assert plan.returncode == 0 and f"would switch current -> releases/{a.id}" in plan.stdout
    assert host_a.current_target() == f"releases/{b.id}"
    back = deploy.run("--rollback", host_a.spec)
    assert back.returncode == 0, back.stdout + back.stderr
    assert host_a.current_target() == f"releases/{a.id}"
    assert os.readlink(host_a.index_root / "previous") == f"releases/{b.id}"
    host_a.wait_serving(a.id, timeout=5)


def test_keep_prunes_old_releases_but_never_current_or_previous(deploy: Deploy, host_a: KioskHost,
                                                                indexes: dict[str, Index]) -> None:
    a, b, c = indexes["A"], indexes["B"], indexes["C"]
    abandoned = host_a.releases / ".incoming-0123456789abcdef"  # an upload nobody resumed
    (abandoned / "renditions").mkdir(parents=True)
    assert deploy.run("--keep", "1", str(b.path), host_a.spec).returncode == 0
    assert {p.name for p in host_a.releases.iterdir()} == {a.id, b.id}  # A is previous
    assert deploy.run("--keep", "1", str(c.path), host_a.spec).returncode == 0
    assert {p.name for p in host_a.releases.iterdir()} == {b.id, c.id}
    assert host_a.current_target() == f"releases/{c.id}"
    host_a.wait_serving(c.id, timeout=5)


def test_dry_run_changes_nothing(deploy: Deploy, host_a: KioskHost, indexes: dict[str, Index]) -> None:
    a, b = indexes["A"], indexes["B"]
    before = sorted(p.name for p in host_a.index_root.rglob("*"))
    proc = deploy.run("--dry-run", str(b.path), host_a.spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would upload" in proc.stdout and f"releases/{b.id}" in proc.stdout
    assert "would switch current" in proc.stdout
    assert sorted(p.name for p in host_a.index_root.rglob("*")) == before
    assert_intact(host_a, a)


# ------------------------------------------------------------------ faults
def test_byte_flipped_during_upload_fails_verification(deploy: Deploy, host_a: KioskHost,
                                                       indexes: dict[str, Index],
                                                       deploy_tmp: Path) -> None:
    """A remote rsync that corrupts one byte of what it received: `kiosk index verify` on the host
    catches it, nothing is switched, and the corrupt upload is dropped. (The remote rsync gets its
    paths through --protect-args, not its command line: the wrapper finds the staging dir.)"""
    a, b = indexes["A"], indexes["B"]
    flip = deploy_tmp / "flip_a_byte.py"
    flip.write_text("import sys\np = sys.argv[1]\nb = bytearray(open(p, 'rb').read())\n"
                    "b[len(b) // 2] ^= 0x40\nopen(p, 'wb').write(b)\n")
    wrapper = deploy_tmp / "rsync-flip-a-byte"
    wrapper.write_text(f"""#!/bin/bash
rsync "$@"; rc=$?
f=$(find "$KIOSK_INDEX_ROOT"/releases/.incoming-* -type f -name '*.jpg' | sort | head -n 1)
[ -n "$f" ] && "{sys.executable}" "{flip}" "$f"
exit $rc
""")
    wrapper.chmod(0o755)
    proc = deploy.run("--rsync-path", str(wrapper), str(b.path), host_a.spec)
    assert proc.returncode == 1
    assert "verification failed" in proc.stdout
    assert_intact(host_a, a)
    assert not (host_a.releases / b.id).exists()
    assert not (host_a.releases / f".incoming-{b.id}").exists()
    # without the corrupting rsync, the next deploy goes through
    assert deploy.run(str(b.path), host_a.spec).returncode == 0
    host_a.wait_serving(b.id, timeout=5)


def test_kiosk_refusing_the_new_index_rolls_back(deploy: Deploy, host_a: KioskHost,
                                                 indexes: dict[str, Index]) -> None:
    """The kiosk does not take the new index (its reload does nothing: an index it would refuse no
    longer passes `kiosk index verify`, which is the kiosk's own check since i12)."""
    a, b = indexes["A"], indexes["B"]
    proc = deploy.run("--reload-cmd", "true", str(b.path), host_a.spec, status_timeout=6)
    assert proc.returncode == 1
    assert "health check" in proc.stdout and "rolled back" in proc.stdout
    assert_intact(host_a, a)
    assert not (host_a.index_root / "previous").exists()  # previous restored too (there was none)
    assert_no_strays(host_a)


def test_sigkill_in_the_middle_of_the_upload_then_resume(deploy: Deploy, host_a: KioskHost,
                                                         indexes: dict[str, Index]) -> None:
    a, b = indexes["A"], indexes["B"]
    out = deploy.run_and_kill_at("upload", str(b.path), host_a.spec)
    assert "test pause at upload" in out
    staging = host_a.releases / f".incoming-{b.id}"
    staged = sorted(p for p in staging.rglob("*") if p.is_file())
    assert staged, "half of the index should have been uploaded"
    assert len(staged) < sum(1 for p in b.path.rglob("*") if p.is_file())
    assert_intact(host_a, a)
    inodes = {p.relative_to(staging): p.stat().st_ino for p in staged}

    proc = deploy.run(str(b.path), host_a.spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    host_a.wait_serving(b.id, timeout=5)
    # resumed: the files uploaded before the kill were not sent again
    release = host_a.releases / b.id
    assert {rel: (release / rel).stat().st_ino for rel in inodes} == inodes


def test_sigkill_while_rsync_is_sending_a_file_then_resume(deploy: Deploy, host_a: KioskHost,
                                                           indexes: dict[str, Index]) -> None:
    """Killed while rsync is in the middle of one big file (bandwidth-limited): rsync keeps the
    partial file, and the re-run sends only the rest of it."""
    a, big = indexes["A"], indexes["big"]
    staging = host_a.releases / f".incoming-{big.id}"
    proc = subprocess.Popen(deploy.argv("--bwlimit", "3000", str(big.path), host_a.spec),
                            env=deploy.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        def receiving() -> bool:  # rsync's temp file for the padding, a few MB in
            assert proc.poll() is None, "the upload finished before it could be killed"
            return any(p.stat().st_size > 2_000_000 for p in staging.glob(".deploy-test-padding.bin.*"))

        wait_until(receiving, 30, "rsync to be halfway through the big file", interval=0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    partial = staging / ".rsync-partial" / "deploy-test-padding.bin"
    wait_until(partial.exists, 10, "the receiving rsync to keep the partial file")
    assert 0 < partial.stat().st_size < (big.path / "deploy-test-padding.bin").stat().st_size
    assert_intact(host_a, a)

    proc2 = deploy.run(str(big.path), host_a.spec)
    assert proc2.returncode == 0, proc2.stdout + proc2.stderr
    reused = re.search(r"reused ([\d,]+)", proc2.stdout)
    assert reused and int(reused.group(1).replace(",", "")) > 1_000_000, proc2.stdout
    host_a.wait_serving(big.id, timeout=5)


@pytest.mark.parametrize("pause_at", ["switch", "reload"])
def test_sigkill_in_the_middle_of_the_switch(deploy: Deploy, host_a: KioskHost,
                                             indexes: dict[str, Index], pause_at: str) -> None:
    """switch: killed with the new links made but not yet renamed over current/previous;
    reload: killed after the rename, before the kiosk was told. Either way the kiosk keeps serving
    the old index, current names a complete release, and a re-run finishes the job."""
    a, b = indexes["A"], indexes["B"]
    out = deploy.run_and_kill_at(pause_at, str(b.path), host_a.spec)
    assert f"test pause at {pause_at}" in out
    assert (host_a.releases / b.id / "manifest.json").is_file()  # verified and in place
    if pause_at == "switch":
        assert_intact(host_a, a)
    else:
        assert host_a.current_target() == f"releases/{b.id}"
        assert (host_a.current / "manifest.json").is_file()
        time.sleep(1)
        assert host_a.serving() == a.id  # nobody told the kiosk yet
    proc = deploy.run(str(b.path), host_a.spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert host_a.current_target() == f"releases/{b.id}"
    assert os.readlink(host_a.index_root / "previous") == f"releases/{a.id}"
    host_a.wait_serving(b.id, timeout=5)
    assert_no_strays(host_a)


def test_unreachable_hosts_fail_fast_and_clearly(deploy: Deploy, indexes: dict[str, Index]) -> None:
    """A port with nothing listening, and a socket that accepts but never answers."""
    closed = free_port()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        t0 = time.monotonic()
        proc = deploy.run(str(indexes["B"].path), f"127.0.0.1:{closed}",
                          f"127.0.0.1:{silent.getsockname()[1]}", timeout=60)
        took = time.monotonic() - t0
    finally:
        silent.close()
    assert proc.returncode == 1
    assert proc.stdout.count("unreachable") >= 2
    assert "Connection refused" in proc.stdout
    assert took < 30  # bounded by --connect-timeout 3, not by a TCP or ssh default


def test_wrong_key_is_a_clear_login_error(deploy: Deploy, host_a: KioskHost, indexes: dict[str, Index],
                                          tmp_path: Path) -> None:
    stranger = make_client_key(tmp_path)  # not in the host's authorized_keys
    proc = deploy.run("-i", str(stranger), str(indexes["B"].path), host_a.spec)
    assert proc.returncode == 1
    assert "ssh login refused" in proc.stdout and "Permission denied" in proc.stdout
    assert_intact(host_a, indexes["A"])


def test_two_hosts_one_fails_one_succeeds(deploy: Deploy, host_a: KioskHost, host_b: KioskHost,
                                          indexes: dict[str, Index]) -> None:
    """Kiosk B is frozen (SIGSTOP): it never reports the new index, so B rolls back; A goes on."""
    a, b = indexes["A"], indexes["B"]
    os.kill(host_b.kiosk.pid, signal.SIGSTOP)
    try:
        hosts = deploy.tmp / "building.txt"
        hosts.write_text(f"# the building\n{host_a.spec}\n\n{host_b.spec}  # frozen\n")
        proc = deploy.run("--parallel", "2", "--hosts", str(hosts), str(b.path), status_timeout=6)
    finally:
        os.kill(host_b.kiosk.pid, signal.SIGCONT)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    row_a = next(line for line in lines if line.startswith(host_a.spec) and " ok " in line)
    row_b = next(line for line in lines if line.startswith(host_b.spec) and "FAILED" in line)
    assert "health check" in row_b and "rolled back" in row_b, row_b
    assert row_a
    assert host_a.current_target() == f"releases/{b.id}"
    host_a.wait_serving(b.id, timeout=5)
    assert_intact(host_b, a)  # the SIGHUPs it got while frozen re-read current = A


def test_missing_kiosk_is_a_clear_error(deploy: Deploy, host_a: KioskHost,
                                        indexes: dict[str, Index]) -> None:
    """(A full disk, on a real size-limited file system: tests/scripts/test_fleet.py.)"""
    a, b = indexes["A"], indexes["B"]
    proc = deploy.run("--remote-kiosk", "/nonexistent/kiosk", str(b.path), host_a.spec)
    assert proc.returncode == 1
    assert "kiosk command not found" in proc.stdout
    assert_intact(host_a, a)


def test_wrong_index_dir_is_refused_before_any_host(deploy: Deploy, indexes: dict[str, Index],
                                                    tmp_path: Path) -> None:
    unused = f"127.0.0.1:{free_port()}"
    proc = deploy.run(str(tmp_path / "missing"), unused)
    assert proc.returncode == 2 and "not a directory" in proc.stderr
    proc = deploy.run(str(tmp_path), unused)
    assert proc.returncode == 2 and "not an index" in proc.stderr
    broken = tmp_path / "broken"
    shutil.copytree(indexes["B"].path, broken)
    victim = sorted((broken / "renditions").iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    proc = deploy.run(str(broken), unused)
    assert proc.returncode == 2 and "fails local verification" in proc.stderr
    assert "unreachable" not in proc.stdout  # no host was contacted
