from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.gallery.demo import DemoAssetError, ensure_demo_index, fetch_demo_assets, load_asset_list
from kiosk.gallery.verify import problems


def test_asset_pins_match_the_mirror(shared_dir: Path) -> None:
    from kiosk.core.checksum import sha256_file

    spec = load_asset_list()
    assert len(spec["assets"]) == 25
    for a in spec["assets"]:
        assert a["url"].startswith("https://raw.githubusercontent.com/tensorflow/tfjs-models/")
        assert sha256_file(shared_dir / a["path"]) == a["sha256"]


def test_wrong_bytes_in_mirror_are_refused(shared_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "data/posenet-demo-images").mkdir(parents=True)
    (mirror / "data/posenet-demo-images/backpackman.jpg").write_bytes(b"not the photo")
    with pytest.raises(DemoAssetError, match="does not match the pinned"):
        fetch_demo_assets(tmp_path / "assets", mirror=mirror)


def test_demo_index_built_once(tmp_path: Path, models_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("KIOSK_CACHE_DIR", str(tmp_path / "cache"))
    path = ensure_demo_index(models_dir=models_dir, model="movenet-lightning")
    assert path == tmp_path / "cache/demo-index" and problems(path) == []
    manifest = json.loads((path / "manifest.json").read_text())
    sources = json.loads((path / "sources.json").read_text())["sources"]
    assert {s["name"] for s in sources} >= {"pose_squats.mp4", "tennis_standing.jpg"}
    assert all(s["licence"] == "Apache-2.0" and "tfjs-models" in s["link"] for s in sources)
    assert manifest["counts"]["mirrored_entries"] * 2 == manifest["counts"]["entries"]
    before = (path / "manifest.json").stat().st_mtime_ns
    assert ensure_demo_index(models_dir=models_dir, model="movenet-lightning") == path
    assert (path / "manifest.json").stat().st_mtime_ns == before  # reused, not rebuilt


def test_demo_index_that_no_longer_opens_is_rebuilt(tmp_path: Path, models_dir: Path, monkeypatch) -> None:
    """A tree file of another format version passes the checksums; verify and open both refuse it."""
    from kiosk.gallery.manifest import write_manifest
    from kiosk.gallery.reader import GalleryIndex, IndexLoadError

    monkeypatch.setenv("KIOSK_CACHE_DIR", str(tmp_path / "cache"))
    path = ensure_demo_index(models_dir=models_dir, model="movenet-lightning")
    manifest = json.loads((path / "manifest.json").read_text())
    tree = path / manifest["vector"]["tree"]
    tree.write_bytes(b"\0" * 16 + tree.read_bytes()[16:])  # another magic/version
    auto = {"format_version", "index_id", "builder_version", "created", "files", "manifest_sha256"}
    write_manifest(path, {k: v for k, v in manifest.items() if k not in auto})
    found = problems(path, deep=True)
    assert len(found) == 1 and "tree.vpt: cannot load the VP-tree" in found[0]
    with pytest.raises(IndexLoadError):
        GalleryIndex.open(path)
    assert ensure_demo_index(models_dir=models_dir, model="movenet-lightning") == path
    assert len(GalleryIndex.open(path)) > 0
