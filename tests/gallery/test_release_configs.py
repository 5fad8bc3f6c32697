"""Configs deployed with a release (kiosk/gallery/releases.py): uploaded and checked by sha256,
switched with `current`, restored by revert, rollback and the dead-man expiry, pruned when unused;
and the kiosk's view of them (kiosk.app.service.config.load_served_config)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kiosk.app.service.config import ConfigError, load_served_config, refuse_machine_keys
from kiosk.gallery.releaselayout import ReleaseError
from kiosk.gallery.releases import ReleaseRoot, deployed_config


def _release(rel: ReleaseRoot, index_id: str) -> None:
    d = rel.release_dir(index_id)
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"index_id": index_id}))


def _config(rel: ReleaseRoot, text: str) -> str:
    """Upload and install a config the way a deploy does; its sha256."""
    sha = hashlib.sha256(text.encode()).hexdigest()
    staged = rel.stage_config(sha)
    if not staged["present"]:
        Path(staged["staging"]).write_text(text)
        rel.install_config(sha)
    return sha


@pytest.fixture()
def rel(tmp_path: Path) -> ReleaseRoot:
    r = ReleaseRoot(tmp_path / "index")
    for i in ("aaa", "bbb", "ccc"):
        _release(r, i)
    r.activate("aaa", confirm_within=60, reload_cmd="")
    r.confirm("aaa")
    return r


def state(rel: ReleaseRoot) -> tuple[str | None, ...]:
    return (rel.current_id(), rel.configs.sha_of(rel._read_link("current-config")),
            rel.id_of(rel._read_link("previous")), rel.configs.sha_of(rel._read_link("previous-config")))


def test_config_switched_with_the_index_and_reverted(rel: ReleaseRoot) -> None:
    x = _config(rel, "match:\n  max_distance: 0.3\n")
    rel.activate("bbb", confirm_within=60, reload_cmd="", config=x)
    assert state(rel) == ("bbb", x, "aaa", None)
    rel.revert("health check failed")
    assert state(rel) == ("aaa", None, None, None)
    rel.activate("bbb", confirm_within=60, reload_cmd="", config=x)
    rel.confirm("bbb")
    # without a config the deployed one stays; rollback restores the pair that was current
    rel.activate("ccc", confirm_within=60, reload_cmd="")
    rel.confirm("ccc")
    assert state(rel) == ("ccc", x, "bbb", x)
    y = _config(rel, "match:\n  max_distance: 0.4\n")
    rel.activate("ccc", confirm_within=60, reload_cmd="", config=y)  # a new config only
    rel.confirm("ccc")
    assert state(rel) == ("ccc", y, "ccc", x)
    rel.rollback(confirm_within=60, reload_cmd="")
    assert state(rel) == ("ccc", x, "ccc", y)


def test_dead_man_expiry_restores_the_config(rel: ReleaseRoot) -> None:
    x = _config(rel, "attract:\n  slide_seconds: 3\n")
    rel.activate("bbb", confirm_within=60, reload_cmd="", config=x)
    assert rel.expire(now=rel.pending().deadline_unix + 1, reload=False)["reverted"]
    assert state(rel) == ("aaa", None, None, None)
    assert rel.prune(1)["deleted_configs"] == [f"{x}.yaml"]  # no link names it any more


def test_upload_checked_by_sha256(rel: ReleaseRoot) -> None:
    sha = hashlib.sha256(b"match: {}\n").hexdigest()
    Path(rel.stage_config(sha)["staging"]).write_text("match: {max_distance: 9}\n")
    with pytest.raises(ReleaseError, match="sha256"):
        rel.install_config(sha)
    assert not rel.configs.file(sha).exists() and not rel.configs.staging(sha).exists()
    with pytest.raises(ReleaseError, match="missing"):
        rel.activate("bbb", confirm_within=60, reload_cmd="", config=sha)
    with pytest.raises(ReleaseError, match="hex"):
        rel.stage_config("../../etc/passwd")


def test_the_kiosk_serves_its_file_with_the_deployed_one_over_it(rel: ReleaseRoot, tmp_path: Path) -> None:
    own = tmp_path / "kiosk.yaml"
    own.write_text(f"index:\n  path: {rel.root / 'current'}\nmatch:\n  tie_margin: 0.1\n")
    config, sha = load_served_config(own)
    assert sha is None and config.match.tie_margin == 0.1
    x = _config(rel, "match:\n  max_distance: 0.3\n")
    rel.activate("bbb", confirm_within=60, reload_cmd="", config=x)
    assert deployed_config(rel.root / "current") == (rel.configs.file(x), x)
    config, sha = load_served_config(own)
    assert sha == x and (config.match.max_distance, config.match.tie_margin) == (0.3, 0.1)
    assert config.index_path() == rel.root / "current"


@pytest.mark.parametrize(("text", "problem"), [
    ("match:\n  max_distance: 7\n", "match.max_distance"),
    ("index:\n  path: /elsewhere\n", "index.path: set by the kiosk's own kiosk.yaml"),
    ("status:\n  path: /tmp/s.json\n", "status.path"),
    ("- a list\n", "mapping"),
])
def test_a_config_to_deploy_is_refused_with_its_key(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem.replace(".", r"\.")):
        refuse_machine_keys(path)
