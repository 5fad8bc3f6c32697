"""The system tests: the kiosk installed for real by scripts/install.sh in a booted Debian bookworm.

They need root, mmdebstrap and systemd-nspawn (scripts/test.sh installs them when root) and run as
their own step of scripts/test.sh (`pytest -m system tests/system`); a plain `pytest` leaves them
out. Without root they skip, saying so; as root with CI=true a missing tool or a failed set-up
FAILS (a skip must never hide a missing feature on CI).

One container is booted per session (module order: install, then the unit under systemd). The
rootfs tarball is cached by scripts/test_rootfs.sh under /var/cache/move-mirror-test; pip's cache
for the container is kept beside it, so a second run downloads nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.container import Container, ContainerError

CHECKOUT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KIOSK_ROOTFS_CACHE", "/var/cache/move-mirror-test"))
TOOLS = ("mmdebstrap", "systemd-nspawn", "nsenter", "tar")
#: Where things sit inside the container.
GUEST_SRC, GUEST_SHARED = "/srv/move-mirror-src", "/srv/shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "system" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="system test: run by scripts/test.sh as its own step "
                            "(pytest -m system tests/system, as root)")
    for item in items:
        if item.get_closest_marker("system"):
            item.add_marker(skip)


def _unavailable(reason: str) -> None:
    """Skip, except as root on CI, where the machine is meant to run these: fail."""
    if os.geteuid() == 0 and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"system tests cannot run on CI: {reason}")
    pytest.skip(f"system tests need {reason}")


def _copy_checkout(dest: Path) -> None:
    """The checkout as a user would have it (tracked and new files; no venvs, caches, .git)."""
    ignore = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".cache-kiosk", "*.tflite",
                                    ".pytest_cache", ".ruff_cache", "*.egg-info")
    shutil.copytree(CHECKOUT, dest, ignore=ignore, symlinks=True)


@pytest.fixture(scope="session")
def container(shared_dir: Path) -> Iterator[Container]:
    if os.geteuid() != 0:
        _unavailable("root (systemd-nspawn and mmdebstrap); scripts/test.sh runs them when root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} (apt-get install mmdebstrap systemd-container)")
    try:
        tarball = subprocess.run(["bash", str(CHECKOUT / "scripts" / "test_rootfs.sh"), "amd64"],
                                 capture_output=True, text=True, check=True, timeout=3600).stdout.strip()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"cannot build the bookworm rootfs: {exc.stderr[-2000:]}")
    work = Path(tempfile.mkdtemp(prefix="move-mirror-system-", dir="/var/tmp"))
    box = Container.unpack(Path(tarball), work / "root", f"mm-system-{os.getpid()}")
    box.log_path = work / "console.log"
    box.copy_host_ca_certificates()
    _copy_checkout(box.root / GUEST_SRC.lstrip("/"))
    pip_cache = CACHE / "pip-amd64"
    pip_cache.mkdir(parents=True, exist_ok=True)
    box.binds = [(shared_dir, GUEST_SHARED, True), (pip_cache, "/root/.cache/pip", False)]
    try:
        box.boot()
    except ContainerError as exc:
        box.remove()
        pytest.fail(f"cannot boot the bookworm container: {exc}")
    yield box
    box.remove()  # the container's directory too
