"""The release layout and its transaction (kiosk/gallery/releases.py) on a real directory: stage,
promote, activate/confirm/revert, the dead-man expiry and its detached watcher, prune, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.core.locks import LockBusy
from kiosk.gallery.releaselayout import PENDING, ReleaseError
from kiosk.gallery.releases import ReleaseRoot
from tests.scripts.kiosk_hosts import wait_until


def _release(rel: ReleaseRoot, index_id: str) -> None:
    d = rel.release_dir(index_id)
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"index_id": index_id}))


@pytest.fixture()
def rel(tmp_path: Path) -> ReleaseRoot:
    r = ReleaseRoot(tmp_path / "index")
    for i in ("aaa", "bbb"):
        _release(r, i)
    r.activate("aaa", confirm_within=60, reload_cmd="")
    r.confirm("aaa")
    return r


def links(rel: ReleaseRoot) -> tuple[str | None, str | None]:
    return rel._read_link("current"), rel._read_link("previous")


def test_activate_confirm_and_revert(rel: ReleaseRoot, tmp_path: Path) -> None:
    marker = tmp_path / "reloads"
    out = rel.activate("bbb", confirm_within=60, reload_cmd=f"echo x >> '{marker}'")
    assert out["reload_exit"] == 0 and marker.read_text() == "x\n"
    assert links(rel) == ("releases/bbb", "releases/aaa")
    assert rel.pending() is not None and rel.pending().release == "bbb"
    rel.revert("health check failed")
    assert links(rel) == ("releases/aaa", None) and rel.pending() is None
    assert marker.read_text() == "x\nx\n"  # reverting reloads too
    rel.activate("bbb", confirm_within=60, reload_cmd="")
    rel.confirm("bbb")
    assert links(rel) == ("releases/bbb", "releases/aaa") and rel.pending() is None


def test_unconfirmed_activation_expires_and_a_new_one_supersedes(rel: ReleaseRoot) -> None:
    rel.activate("bbb", confirm_within=60, reload_cmd="")
    assert rel.expire(now=time.time() + 30)["reverted"] is False
    assert rel.expire(now=time.time() + 61)["reverted"] is True
    assert links(rel) == ("releases/aaa", None)
    # an interrupted activation is undone by the next one: previous is the last confirmed release
    rel.activate("bbb", confirm_within=60, reload_cmd="")
    rel.activate("bbb", confirm_within=60, reload_cmd="")
    assert links(rel) == ("releases/bbb", "releases/aaa")


def test_the_detached_watcher_reverts_at_the_deadline(rel: ReleaseRoot) -> None:
    rel.activate("bbb", confirm_within=1.5, reload_cmd="")  # spawns `kiosk releases watch`
    assert links(rel)[0] == "releases/bbb"
    wait_until(lambda: links(rel)[0] == "releases/aaa", 20, "the watcher to revert")
    assert not (rel.root / PENDING).exists()


def test_rollback_is_a_pending_activation_of_previous(rel: ReleaseRoot) -> None:
    rel.activate("bbb", confirm_within=60, reload_cmd="")
    rel.confirm("bbb")
    rel.rollback(confirm_within=60, reload_cmd="")
    assert links(rel) == ("releases/aaa", "releases/bbb") and rel.pending().release == "aaa"


def test_stage_refuses_what_does_not_fit_and_drops_abandoned_uploads(rel: ReleaseRoot) -> None:
    abandoned = rel.staging_dir("ccc")
    abandoned.mkdir()
    with pytest.raises(ReleaseError, match="not enough disk space"):
        rel.stage("ddd", 10**15)
    assert not rel.staging_dir("ddd").exists()
    out = rel.stage("ddd", 1000)
    assert Path(out["staging"]).is_dir() and not abandoned.exists()
    assert rel.stage("aaa", 1000)["release_exists"] is True


def test_promote_verifies_and_drops_a_bad_upload(rel: ReleaseRoot) -> None:
    rel.stage("ccc", 10)
    with pytest.raises(ReleaseError, match=r"verification failed.*broken"):
        rel.promote("ccc", lambda p: ["broken"])
    assert not rel.staging_dir("ccc").exists()
    rel.stage("ccc", 10)
    assert rel.promote("ccc", lambda p: [])["verified"]
    assert rel.release_dir("ccc").is_dir() and not rel.staging_dir("ccc").exists()


def test_prune_keeps_current_previous_and_the_newest(rel: ReleaseRoot) -> None:
    for i, name in enumerate(("ccc", "ddd", "eee")):
        _release(rel, name)
        os.utime(rel.release_dir(name), (1000 + i, 1000 + i))
    rel.activate("bbb", confirm_within=60, reload_cmd="")
    rel.confirm("bbb")
    assert set(rel.prune(1, dry_run=True)["deleted"]) == {"ccc", "ddd", "eee"}
    assert {p.name for p in rel.releases.iterdir()} == {"aaa", "bbb", "ccc", "ddd", "eee"}
    rel.prune(1)
    assert {p.name for p in rel.releases.iterdir()} == {"aaa", "bbb"}


def test_one_deploy_session_at_a_time(rel: ReleaseRoot) -> None:
    holder = subprocess.Popen([sys.executable, "-m", "kiosk", "releases", "--index-root", str(rel.root),
                               "hold", "--owner", "test"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert json.loads(holder.stdout.readline())["locked"]
        assert rel.session_busy()
        with pytest.raises(LockBusy, match=r"another deploy.*test"), rel.session("me"):
            pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=20)
    assert not rel.session_busy()


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "x\n$(id)", "-rf"])
def test_unsafe_ids_are_refused(rel: ReleaseRoot, bad: str) -> None:
    with pytest.raises(ReleaseError, match="unsafe"):
        rel.release_dir(bad)


def test_the_running_kiosk_reverts_an_overdue_activation_itself(rel: ReleaseRoot, tmp_path: Path) -> None:
    """expire_for_index is the service's hook: it reverts without running the reload command
    (the kiosk reloads itself). The detached watcher is retired by a token change."""
    from kiosk.gallery.releases import expire_for_index

    marker = tmp_path / "reloaded"
    rel.activate("bbb", confirm_within=60, reload_cmd=f"touch '{marker}'")
    marker.unlink()
    data = json.loads((rel.root / PENDING).read_text())
    (rel.root / PENDING).write_text(json.dumps({**data, "token": "other", "deadline_unix": time.time() - 1}))
    assert expire_for_index(rel.root / "current") is True
    assert links(rel) == ("releases/aaa", None) and not marker.exists()
    assert expire_for_index(rel.root / "current") is False
    assert expire_for_index(tmp_path / "plain-index") is False
