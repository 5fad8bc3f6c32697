"""`kiosk deploy --config`: a kiosk.yaml delivered with the index through the release transaction,
on the real-sshd harness with the real `kiosk run` (kiosk-a). In force after the deploy (the
running kiosk reports its sha256 in the status file), refused on the workstation before any host
is contacted when broken, rolled back with the index when the kiosk refuses it at reload, and
restored by --rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.core.checksum import sha256_file
from kiosk.gallery.releaselayout import PENDING
from tests.scripts.conftest import Deploy, Index
from tests.scripts.kiosk_hosts import KioskHost, free_port, wait_until

pytestmark = pytest.mark.slow


def _file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def served(host: KioskHost, index: Index, config: Path | None, timeout: float = 30) -> None:
    """The kiosk settled on `index` with `config` deployed (None: no deployed config), both in the
    links and as reported by the running kiosk."""
    sha = sha256_file(config) if config else None
    link = f"configs/{sha}.yaml" if sha else None

    def done() -> bool:
        st = host.status()
        cfg = host.index_root / "current-config"
        return (host.current_target() == f"releases/{index.id}" and st.get("index_id") == index.id
                and st.get("deployed_config") == sha and st.get("pid") == host.kiosk.pid
                and (str(cfg.readlink()) if cfg.is_symlink() else None) == link
                and not (host.index_root / PENDING).exists())

    wait_until(done, timeout, f"{host.name} to serve {index.id} with config {sha} "
               f"(status {host.status()})")


def test_a_broken_config_is_refused_before_any_host_is_contacted(deploy: Deploy, indexes: dict[str, Index],
                                                                 tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"  # contacting it would fail with "unreachable", exit 1
    for text, key in (("match:\n  max_distance: 7\n", "match.max_distance"),
                      ("camera:\n  widht: 640\n", "camera.widht"),
                      ("index:\n  path: /srv/elsewhere\n", "index.path")):
        proc = deploy.run(str(indexes["B"].path), down, "--config", str(_file(tmp_path, "bad.yaml", text)))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert key in proc.stderr and "--config refused" in proc.stderr, proc.stderr
        assert "unreachable" not in proc.stdout + proc.stderr and down not in proc.stdout


def test_config_in_force_refused_at_reload_rolled_back_and_rollback(deploy: Deploy, host_a: KioskHost,
                                                                    indexes: dict[str, Index],
                                                                    tmp_path: Path) -> None:
    a, b, c = indexes["A"], indexes["B"], indexes["C"]
    good = _file(tmp_path, "good.yaml", "match:\n  max_distance: 0.3\nattract:\n  slide_seconds: 4\n")
    proc = deploy.run(str(b.path), host_a.spec, "--config", str(good))
    assert proc.returncode == 0, proc.stdout
    assert "verified on the host" in proc.stdout and f"config {sha256_file(good)[:12]}" in proc.stdout
    served(host_a, b, good)

    # the workstation's check skipped: the kiosk refuses the config at reload, and the deploy
    # rolls back exactly as for an index the kiosk refuses: index B and config `good` again
    bad = _file(tmp_path, "bad.yaml", "match:\n  max_distance: 7\n")
    proc = deploy.run("--no-local-verify", str(c.path), host_a.spec, "--config", str(bad),
                      status_timeout=6)
    assert proc.returncode == 1, proc.stdout
    assert "health check" in proc.stdout and f"rolled back to {b.id} (serving)" in proc.stdout, proc.stdout
    served(host_a, b, good)
    assert "match.max_distance" in (host_a.kiosk_log.read_text())  # the kiosk said why

    # --rollback: index A and no deployed config (as before the first deploy), then back again
    proc = deploy.run("--rollback", host_a.spec)
    assert proc.returncode == 0, proc.stdout
    served(host_a, a, None)
    proc = deploy.run("--rollback", host_a.spec)
    assert proc.returncode == 0, proc.stdout
    served(host_a, b, good)
