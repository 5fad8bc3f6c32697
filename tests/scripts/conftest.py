"""Fixtures for the deploy tests: indexes, kiosk hosts (sshd + kiosk process), a deploy runner."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scripts.kiosk_hosts import RELOAD_CMD, KioskHost, make_client_key, wait_until

CHECKOUT = Path(__file__).resolve().parents[2]
DEPLOY = CHECKOUT / "scripts" / "deploy.sh"
HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------ the kiosk under test
@dataclass
class Flavor:
    """Which `kiosk` the hosts run: the real one, or the stand-in (tests/scripts/fake_kiosk.py)."""

    name: str
    bin_dir: Path

    def kiosk_argv(self, index: Path) -> list[str]:
        return [str(self.bin_dir / "kiosk"), "run", "--index", str(index)]


def _standin_flavor(tmp: Path) -> Flavor:
    bin_dir = tmp / "standin-bin"
    bin_dir.mkdir()
    kiosk = bin_dir / "kiosk"
    kiosk.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_kiosk.py"}" "$@"\n')
    kiosk.chmod(0o755)
    return Flavor("stand-in", bin_dir)


def _standin_index(dest: Path, variant: str, *, refuse: bool = False) -> str:
    import hashlib

    (dest / "renditions").mkdir(parents=True)
    rng = __import__("random").Random(variant)
    (dest / "vectors.npy").write_bytes(bytes(rng.getrandbits(8) for _ in range(300_000)))
    for i in range(6):
        (dest / "renditions" / f"{i:06d}.jpg").write_bytes(bytes(rng.getrandbits(8) for _ in range(20_000)))
    files = {}
    for p in sorted(dest.rglob("*")):
        if p.is_file():
            files[p.relative_to(dest).as_posix()] = {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                                                     "bytes": p.stat().st_size}
    index_id = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    manifest = {"format_version": 1, "index_id": index_id, "files": files}
    if refuse:
        manifest["refuse"] = True
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return index_id


@dataclass
class Index:
    path: Path
    id: str


@pytest.fixture(scope="session")
def deploy_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deploy")


@pytest.fixture(scope="session")
def flavor(deploy_tmp: Path) -> Flavor:
    return _standin_flavor(deploy_tmp)


@pytest.fixture(scope="session")
def indexes(deploy_tmp: Path, flavor: Flavor) -> dict[str, Index]:
    """Three distinct valid indexes A, B, C and one the kiosk refuses (it still verifies)."""
    out = {}
    for name in ("A", "B", "C"):
        path = deploy_tmp / "indexes" / name
        out[name] = Index(path, _standin_index(path, name))
    path = deploy_tmp / "indexes" / "refused"
    out["refused"] = Index(path, _standin_index(path, "refused", refuse=True))
    return out


@pytest.fixture(scope="session")
def client_key(deploy_tmp: Path) -> Path:
    return make_client_key(deploy_tmp)


def _make_host(name: str, deploy_tmp: Path, client_key: Path, flavor: Flavor) -> KioskHost:
    return KioskHost(name=name, dir=deploy_tmp / name, client_key=client_key, kiosk_bin=flavor.bin_dir,
                     env={"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
                          "KIOSK_ASSET_MIRROR": os.environ.get("KIOSK_ASSET_MIRROR", "")},
                     kiosk_argv=flavor.kiosk_argv)


def _host_fixture(name: str, request: pytest.FixtureRequest, deploy_tmp: Path, client_key: Path,
                  flavor: Flavor, indexes: dict[str, Index]) -> KioskHost:
    host = _make_host(name, deploy_tmp, client_key, flavor)
    request.addfinalizer(host.stop)
    host.start_sshd()
    host.install_release(indexes["A"].path, indexes["A"].id)
    host.start_kiosk()
    host.wait_serving(indexes["A"].id, timeout=120)
    return host


@pytest.fixture(scope="session")
def _host_a(request, deploy_tmp, client_key, flavor, indexes) -> KioskHost:
    return _host_fixture("kiosk-a", request, deploy_tmp, client_key, flavor, indexes)


@pytest.fixture(scope="session")
def _host_b(request, deploy_tmp, client_key, flavor, indexes) -> KioskHost:
    return _host_fixture("kiosk-b", request, deploy_tmp, client_key, flavor, indexes)


@pytest.fixture()
def host_a(_host_a: KioskHost, indexes: dict[str, Index]) -> KioskHost:
    """Kiosk A serving index A: releases/A only, current -> releases/A."""
    _host_a.reset(indexes["A"].path, indexes["A"].id)
    return _host_a


@pytest.fixture()
def host_b(_host_b: KioskHost, indexes: dict[str, Index]) -> KioskHost:
    _host_b.reset(indexes["A"].path, indexes["A"].id)
    return _host_b


# ------------------------------------------------------------------ running the deploy
class Deploy:
    def __init__(self, flavor: Flavor, client_key: Path, tmp: Path) -> None:
        self.flavor = flavor
        self.client_key = client_key
        self.tmp = tmp

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.flavor.bin_dir}:{env.get('PATH', '')}"  # the local `kiosk index verify`
        env.update(extra)
        return env

    def argv(self, *args: str, status_timeout: int = 20) -> list[str]:
        return [str(DEPLOY), "-i", str(self.client_key),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "--connect-timeout", "3", "--io-timeout", "20",
                "--reload-cmd", RELOAD_CMD, "--remote-kiosk", str(self.flavor.bin_dir / "kiosk"),
                "--status-timeout", str(status_timeout), *args]

    def run(self, *args: str, timeout: float = 120, status_timeout: int = 20,
            **env: str) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        proc = subprocess.run(self.argv(*args, status_timeout=status_timeout), env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout, start_new_session=True)
        proc.seconds = time.monotonic() - t0  # type: ignore[attr-defined]
        print(f"$ deploy.sh {' '.join(args)}  ({proc.seconds:.1f}s, exit {proc.returncode})\n"  # type: ignore[attr-defined]
              f"{proc.stdout}\n{proc.stderr}")
        return proc

    def run_and_kill_at(self, pause_at: str, *args: str, timeout: float = 60) -> str:
        """Start a deploy paused at `pause_at`, SIGKILL its whole process group there; its output."""
        out = self.tmp / f"killed-{pause_at}-{time.monotonic_ns()}.log"
        with open(out, "wb") as f:
            proc = subprocess.Popen(self.argv(*args), env=self.env(DEPLOY_TEST_PAUSE_AT=pause_at,
                                                                  DEPLOY_TEST_PAUSE_SECONDS="120"),
                                    stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: f"test pause at {pause_at}" in out.read_text() or proc.poll() is not None,
                       timeout, f"the deploy to reach {pause_at}")
            assert proc.poll() is None, f"the deploy ended before {pause_at}: {out.read_text()}"
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        return out.read_text()


@pytest.fixture(scope="session")
def deploy(flavor: Flavor, client_key: Path, deploy_tmp: Path) -> Deploy:
    if shutil.which("rsync") is None or (not Path("/usr/sbin/sshd").exists() and not shutil.which("sshd")):
        pytest.fail("the deploy tests need rsync and openssh-server (scripts/test.sh installs them "
                    "as root: apt-get install openssh-server rsync)")
    return Deploy(flavor, client_key, deploy_tmp)

