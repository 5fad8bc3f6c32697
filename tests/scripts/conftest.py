"""Fixtures for the deploy tests: indexes, kiosk hosts (sshd + kiosk process), a deploy runner."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


def _standin_index(dest: Path, variant: str, *, refuse: bool = False, padding: int = 0) -> str:
    import hashlib

    (dest / "renditions").mkdir(parents=True)
    if padding:
        (dest / "deploy-test-padding.bin").write_bytes(os.urandom(padding))
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
def deploy_tmp(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Our own temp dir (pytest's numbered basetemp dirs are rotated by concurrent pytest runs);
    kept, with the sshd and kiosk logs, when a test failed."""
    path = Path(tempfile.mkdtemp(prefix="deploy-tests-"))
    failed_before = request.session.testsfailed
    yield path
    if request.session.testsfailed > failed_before:
        print(f"\ndeploy tests: logs kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def _real_flavor(tmp: Path, shared_dir: Path) -> Flavor:
    """The real `kiosk` console script (next to this Python), replaying the squats recording."""
    script = Path(sys.executable).parent / "kiosk"
    if not script.exists():
        found = shutil.which("kiosk")
        assert found, "the kiosk command is not installed (pip install -e .)"
        script = Path(found)
    bin_dir = tmp / "kiosk-bin"
    bin_dir.mkdir()
    (bin_dir / "kiosk").symlink_to(script)
    recording = shared_dir / "data" / "recordings" / "pose_squats.mp4"
    assert recording.is_file(), recording

    class Real(Flavor):
        def kiosk_argv(self, index: Path) -> list[str]:
            return [str(self.bin_dir / "kiosk"), "run", "--index", str(index),
                    "--source", f"replay:{recording}", "--loop", "--headless"]

    return Real("real", bin_dir)


def use_standin() -> bool:
    """DEPLOY_TEST_KIOSK=standin runs the deploy tests against tests/scripts/fake_kiosk.py
    (fast, for work on deploy.sh itself); the default is the real kiosk."""
    return os.environ.get("DEPLOY_TEST_KIOSK", "real") == "standin"


@pytest.fixture(scope="session")
def flavor(deploy_tmp: Path, request: pytest.FixtureRequest) -> Flavor:
    if use_standin():
        return _standin_flavor(deploy_tmp)
    return _real_flavor(deploy_tmp, request.getfixturevalue("shared_dir"))


@pytest.fixture(scope="session")
def kiosk_env(flavor: Flavor, request: pytest.FixtureRequest, deploy_tmp: Path) -> dict[str, str]:
    """Environment of the kiosk hosts (their ssh sessions and kiosk processes)."""
    env = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "KIOSK_ASSET_MIRROR": os.environ.get("KIOSK_ASSET_MIRROR", ""),
           "KIOSK_CACHE_DIR": str(deploy_tmp / "cache")}
    if flavor.name == "real":
        env["KIOSK_MODELS_DIR"] = str(request.getfixturevalue("models_dir"))
    return env


BIG_PADDING = 12 * 1024 * 1024
PHOTOS_A = ("tennis_standing.jpg", "skiing.jpg", "backpackman.jpg")
PHOTOS_B = ("baseball.jpg", "frisbee.jpg", "snowboard.jpg", "tennis_in_crowd.jpg")
_NOT_MANIFEST_BODY = ("format_version", "index_id", "builder_version", "created", "files",
                      "manifest_sha256")


def _real_build(flavor: Flavor, env: dict[str, str], photos: Path, names: tuple[str, ...],
                dest: Path) -> str:
    """`kiosk index build` of a few of the PoseNet demo photos."""
    src = dest.parent / f"{dest.name}-photos"
    src.mkdir(parents=True)
    for name in names:
        shutil.copy(photos / name, src / name)
    proc = subprocess.run([str(flavor.bin_dir / "kiosk"), "index", "build", str(src), "-o", str(dest),
                           "--partial-body", "--display-size", "240x270", "--no-cache", "--quiet",
                           "--model", "movenet-lightning"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((dest / "manifest.json").read_text())["index_id"]


def _derive(src: Path, dest: Path, note: str, *, break_tree: bool = False, padding: int = 0) -> str:
    """A copy of a built index with one more file (so another index id), re-manifested with the
    builder's own manifest writer. break_tree: garbage in the VP-tree file, with checksums to
    match, so `kiosk index verify` passes but the kiosk cannot load the index."""
    from kiosk.gallery.manifest import write_manifest

    shutil.copytree(src, dest)
    old = json.loads((dest / "manifest.json").read_text())
    (dest / "deploy-test-note.txt").write_text(note + "\n")
    if padding:  # incompressible, so that a bandwidth-limited upload takes a while
        (dest / "deploy-test-padding.bin").write_bytes(os.urandom(padding))
    if break_tree:
        tree = dest / old["vector"]["tree"]
        tree.write_bytes(b"not a VP-tree " * (tree.stat().st_size // 14 + 1))
    (dest / "manifest.json").unlink()
    body = {k: v for k, v in old.items() if k not in _NOT_MANIFEST_BODY}
    return write_manifest(dest, body)["index_id"]


@pytest.fixture(scope="session")
def indexes(deploy_tmp: Path, flavor: Flavor, kiosk_env: dict[str, str],
            request: pytest.FixtureRequest) -> dict[str, Index]:
    """Distinct valid indexes A, B, C, "big" (B plus 12 MB) and one the kiosk refuses although it
    verifies."""
    root = deploy_tmp / "indexes"
    out = {}
    if flavor.name != "real":
        for name in ("A", "B", "C"):
            out[name] = Index(root / name, _standin_index(root / name, name))
        out["refused"] = Index(root / "refused", _standin_index(root / "refused", "refused", refuse=True))
        out["big"] = Index(root / "big", _standin_index(root / "big", "big", padding=BIG_PADDING))
        return out
    photos = request.getfixturevalue("shared_dir") / "data" / "posenet-demo-images"
    out["A"] = Index(root / "A", _real_build(flavor, kiosk_env, photos, PHOTOS_A, root / "A"))
    out["B"] = Index(root / "B", _real_build(flavor, kiosk_env, photos, PHOTOS_B, root / "B"))
    out["C"] = Index(root / "C", _derive(root / "B", root / "C", "C: B plus a note"))
    out["refused"] = Index(root / "refused", _derive(root / "A", root / "refused", "a broken tree",
                                                     break_tree=True))
    out["big"] = Index(root / "big", _derive(root / "B", root / "big", "B plus padding",
                                             padding=BIG_PADDING))
    assert len({i.id for i in out.values()}) == 5, out
    return out


@pytest.fixture(scope="session")
def client_key(deploy_tmp: Path) -> Path:
    return make_client_key(deploy_tmp)


def _host_fixture(name: str, request: pytest.FixtureRequest, deploy_tmp: Path, client_key: Path,
                  flavor: Flavor, indexes: dict[str, Index]) -> KioskHost:
    host = KioskHost(name=name, dir=deploy_tmp / name, client_key=client_key, kiosk_bin=flavor.bin_dir,
                     env=request.getfixturevalue("kiosk_env"), kiosk_argv=flavor.kiosk_argv)
    request.addfinalizer(host.stop)
    return start_host(host, indexes)


def start_host(host: KioskHost, indexes: dict[str, Index], timeout: float = 120) -> KioskHost:
    """sshd up, release A installed as current, the kiosk process serving it."""
    host.start_sshd()
    host.install_release(indexes["A"].path, indexes["A"].id)
    host.start_kiosk()
    host.wait_serving(indexes["A"].id, timeout=timeout)
    return host


@pytest.fixture(scope="module")
def _host_a(request, deploy_tmp, client_key, flavor, indexes) -> KioskHost:
    return _host_fixture("kiosk-a", request, deploy_tmp, client_key, flavor, indexes)


@pytest.fixture(scope="module")
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
    def __init__(self, flavor: Flavor, client_key: Path, tmp: Path, kiosk_env: dict[str, str]) -> None:
        self.flavor = flavor
        self.client_key = client_key
        self.tmp = tmp
        self.kiosk_env = kiosk_env

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.flavor.bin_dir}:{env.get('PATH', '')}"  # the workstation's `kiosk`
        if "KIOSK_MODELS_DIR" in self.kiosk_env:  # the models the indexes were built with
            env["KIOSK_MODELS_DIR"] = self.kiosk_env["KIOSK_MODELS_DIR"]
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

    def run_and_kill_at(self, pause_at: str, *args: str, timeout: float = 60,
                        status_timeout: int = 20) -> str:
        """Start a deploy paused at `pause_at`, SIGKILL its whole process group there; its output."""
        out = self.tmp / f"killed-{pause_at}-{time.monotonic_ns()}.log"
        with open(out, "wb") as f:
            proc = subprocess.Popen(self.argv("--test-pause-at", pause_at, "--test-pause-seconds", "120",
                                              *args, status_timeout=status_timeout),
                                    env=self.env(), stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)
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
def deploy(flavor: Flavor, client_key: Path, deploy_tmp: Path, kiosk_env: dict[str, str]) -> Deploy:
    if shutil.which("rsync") is None or (not Path("/usr/sbin/sshd").exists() and not shutil.which("sshd")):
        pytest.fail("the deploy tests need rsync and openssh-server (scripts/test.sh installs them "
                    "as root: apt-get install openssh-server rsync)")
    return Deploy(flavor, client_key, deploy_tmp, kiosk_env)

