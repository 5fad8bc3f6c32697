from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk.core.enums import Views
from kiosk.gallery.demo import DemoAssetError, ensure_demo_index, fetch_demo_assets, load_asset_list
from kiosk.gallery.verify import problems


def test_asset_pins_match_the_mirror(shared_dir: Path) -> None:
    from kiosk.core.checksum import sha256_file

    spec = load_asset_list()
    assert len(spec["assets"]) == 25 and spec["replay"] == "data/recordings/pose_squats.mp4"
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
    names = {s["name"] for s in sources}
    assert "tennis_standing.jpg" in names and "pose_squats.mp4" not in names  # never the visitor
    assert sum(n.startswith("0000") for n in names) == 79  # the annotated COCO images
    for s in sources:  # captions from the sources' own metadata, never the file name
        assert s["title"] and s["title"] != Path(s["name"]).stem and s["credit"] and s["licence"]
        if s["name"].startswith("0000"):
            assert s["licence"].startswith("CC ") or s["licence"] in {
                "No known copyright restrictions", "United States Government Work"}
            assert "flickr.com" in s["link"] and "COCO" in s["credit"]
        else:
            assert s["licence"] == "Apache-2.0" and "tfjs-models" in s["link"]
    assert manifest["build_options"]["every_person"] is True
    assert manifest["counts"]["mirrored_entries"] * 2 == manifest["counts"]["entries"]
    assert sum(s["entries"] for s in sources if s["name"].startswith("0000")) > 0  # COCO people shown
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


def test_coco_slice_pins_and_captions(shared_dir: Path, tmp_path: Path) -> None:
    from kiosk.gallery.demo_coco import CocoAssetError, fetch_coco, licence_label

    spec = load_asset_list()["coco"]
    files, meta = fetch_coco(spec, shared_dir, tmp_path / "coco")
    assert len(files) == len(meta) == 79
    assert licence_label({"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/"}) == "CC BY-NC-SA 2.0"
    m = meta["000000397133.jpg"]
    assert m == {"title": "Photo taken 14 November 2013", "credit": m["credit"], "licence": "CC BY 2.0",
                 "link": "http://farm7.staticflickr.com/6116/6255196340_da26cf2c9e_z.jpg"}
    (tmp_path / "coco/000000397133.jpg").write_bytes(b"damaged")  # a damaged copy is fetched again
    assert fetch_coco(spec, shared_dir, tmp_path / "coco")[0] == files
    mirror = tmp_path / "mirror"  # a mirror with a changed image is refused
    shutil.copytree(shared_dir / "data/coco-mini", mirror / "data/coco-mini")
    (mirror / "data/coco-mini/val2017/000000397133.jpg").chmod(0o644)
    (mirror / "data/coco-mini/val2017/000000397133.jpg").write_bytes(b"changed")
    with pytest.raises(CocoAssetError, match="image set's digest"):
        fetch_coco(spec, mirror, tmp_path / "coco2")
    assert fetch_coco(spec, None, tmp_path / "none") == ([], {})  # no mirror: PoseNet photos only


def test_the_recipe_changes_with_how_the_builder_sees_photos(tmp_path: Path, monkeypatch) -> None:
    """A demo index built before the views (or with older views) is rebuilt, not reused."""
    from kiosk.gallery import demo
    from kiosk.pose import views

    f = tmp_path / "a.jpg"
    f.write_bytes(b"x")
    before = demo._recipe([f], Views.CROPS)
    assert demo._recipe([f], Views.PHOTO) != before
    monkeypatch.setattr(views, "VIEWS_VERSION", views.VIEWS_VERSION + 1)
    assert demo._recipe([f], Views.CROPS) != before
