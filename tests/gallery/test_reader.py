from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery.builder import BuildOptions, build
from kiosk.gallery.extract import Filters
from kiosk.gallery.manifest import write_manifest
from kiosk.gallery.reader import Entry, GalleryIndex, IndexLoadError, Match
from tests.gallery.conftest import Built


def test_open_and_entries(built: Built) -> None:
    idx = GalleryIndex.open(built.path, verify=True)
    assert idx.path == built.path.resolve() and len(idx) == built.summary.entries
    assert re.fullmatch(r"[0-9a-f]{16}", idx.index_id) and idx.manifest["index_id"] == idx.index_id
    e = idx.entry(0)
    assert isinstance(e, Entry) and e.id == 0 and e.title and not e.mirrored
    assert e.crop_box[2] > e.crop_box[0] and e.crop_box[3] > e.crop_box[1]
    with pytest.raises(IndexError, match="out of range"):
        idx.entry(len(idx))


@pytest.mark.parametrize("metric", ["cosine", "weighted"])
def test_query_orders_and_limits(built: Built, metric: str) -> None:
    idx = GalleryIndex.open(built.path)
    probe = idx.entry(3).keypoints  # rendition coordinates: normalisation makes that irrelevant
    matches = idx.query(probe, k=5, metric=metric)
    assert len(matches) == 5 and all(isinstance(m, Match) for m in matches)
    assert matches[0].entry_id == 3 and matches[0].distance < 1e-3
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)
    far = matches[2].distance
    assert all(m.distance <= far for m in idx.query(probe, k=5, metric=metric, max_distance=far))
    assert len(idx.query(probe, k=10_000)) == len(idx)


@pytest.mark.parametrize("metric", ["cosine", "weighted"])
def test_query_vector_is_query_for_a_normalised_pose(built: Built, metric: str) -> None:
    from kiosk.match import pose_vector

    idx = GalleryIndex.open(built.path)
    probe = idx.entry(5).keypoints
    assert idx.query_vector(*pose_vector(probe), k=4, metric=metric) == idx.query(probe, k=4, metric=metric)


def test_query_unknown_metric(built: Built) -> None:
    idx = GalleryIndex.open(built.path)
    with pytest.raises(ValueError, match="metric"):
        idx.query(idx.entry(0).keypoints, metric="manhattan")


def _copy(built: Built, tmp_path: Path) -> Path:
    dest = tmp_path / "index"
    shutil.copytree(built.path, dest)
    return dest


def test_open_refuses_a_damaged_index(built: Built, tmp_path: Path) -> None:
    root = _copy(built, tmp_path)
    (root / "renditions/000001.jpg").unlink()
    with pytest.raises(IndexLoadError, match=r"renditions/000001\.jpg: listed in the manifest but missing"):
        GalleryIndex.open(root)


def test_open_refuses_an_edited_manifest(built: Built, tmp_path: Path) -> None:
    root = _copy(built, tmp_path)
    text = (root / "manifest.json").read_text().replace('"format_version": 2', '"format_version": 1')
    (root / "manifest.json").write_text(text)
    with pytest.raises(IndexLoadError, match="manifest checksum mismatch"):
        GalleryIndex.open(root)


def test_open_refuses_a_future_format(built: Built, tmp_path: Path) -> None:
    root = _copy(built, tmp_path)
    m = json.loads((root / "manifest.json").read_text())
    body = {k: v for k, v in m.items() if k not in ("format_version", "index_id", "builder_version",
                                                       "created", "files", "manifest_sha256")}
    write_manifest(root, body)
    text = (root / "manifest.json").read_text()
    assert GalleryIndex.open(root)  # rewritten, still format 1
    m2 = json.loads(text)
    m2["format_version"] = 99
    (root / "manifest.json").write_text(json.dumps(m2, indent=1))  # checksum now wrong too
    with pytest.raises(IndexLoadError):
        GalleryIndex.open(root)


def test_deep_verify_on_open(built: Built, tmp_path: Path) -> None:
    root = _copy(built, tmp_path)
    data = bytearray((root / "keypoints.npy").read_bytes())
    data[-1] ^= 0xFF
    (root / "keypoints.npy").write_bytes(bytes(data))
    GalleryIndex.open(root)  # same size: the cheap check cannot tell
    with pytest.raises(IndexLoadError, match=r"keypoints\.npy: sha256 mismatch"):
        GalleryIndex.open(root, verify=True)


def test_every_person_with_posenet(shared_dir: Path, tmp_path: Path, models_dir: Path) -> None:
    """PoseNet finds several people; --every-person makes each one an entry."""
    from kiosk.pose.engine import load_pose_model

    model = load_pose_model("posenet-353x481", models_dir=models_dir, delegate="cpu")
    photo = shared_dir / "data/posenet-demo-images/multi_skiing.jpg"
    loose = Filters(full_body=False, min_keypoints=5, min_person_height=0.1, min_person_px=32)
    one = build([photo], tmp_path / "one", BuildOptions(filters=loose), model=model, progress=False)
    every = build([photo], tmp_path / "all", BuildOptions(filters=loose, every_person=True),
                  model=model, progress=False)
    assert one.entries == 1 and every.entries >= 2
    idx = GalleryIndex.open(tmp_path / "all")
    boxes = {idx.entry(i).crop_box for i in range(len(idx))}
    assert len(boxes) == every.entries  # one crop per person
    assert np.all([idx.entry(i).source == "multi_skiing.jpg" for i in range(len(idx))])
