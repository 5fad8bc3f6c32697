"""The builder on real photos and video (MoveNet), against one shared index where possible."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.core.enums import Views
from kiosk.gallery import builder as builder_mod
from kiosk.gallery.builder import BuildError, BuildOptions, build
from kiosk.gallery.extract import REASONS, Filters, dominant
from kiosk.gallery.reader import GalleryIndex
from kiosk.gallery.sources import load_image
from kiosk.gallery.verify import problems
from kiosk.pose.views import with_views
from tests.gallery.conftest import COCO_SUBSET, Built
from tests.gallery.test_sources import bad_files

N_DEMO, N_VIDEO_FRAMES = 24, 26  # 24 photos; 13 s at the default 2 fps


def demo_folder(shared_dir: Path, dest: Path, names: list[str]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy(shared_dir / "data/posenet-demo-images" / n, dest / n)
    return dest


# ---- the shared index ------------------------------------------------------------------------
def test_counts_add_up(built: Built) -> None:
    s = built.summary
    assert s.sources_read == N_DEMO + COCO_SUBSET + 1
    assert s.sources_unreadable == 0 and s.skipped == []
    assert s.frames_seen == N_DEMO + COCO_SUBSET + N_VIDEO_FRAMES
    # Dominant person only: every frame is either one entry or one discard.
    assert s.entries + sum(s.discarded.values()) == s.frames_seen
    assert set(s.discarded) <= set(REASONS)
    assert s.entries > 0 and len(s.sources_extracted) == s.sources_read
    m = json.loads((built.path / "manifest.json").read_text())
    assert m["counts"]["entries"] == s.entries
    assert m["counts"]["discarded"] == dict(s.discarded)
    assert m["display_size"] == [960, 1080]
    assert m["model"]["name"] == "movenet-lightning" and len(m["model"]["sha256"]) == 64


def _sources(built: Built) -> dict[str, dict]:
    sources = json.loads((built.path / "sources.json").read_text())["sources"]
    return {s["name"]: s for s in sources}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        # whole people, clearly visible: kept
        ("backpackman.jpg", None),
        ("frisbee.jpg", None),
        ("frisbee_2.jpg", None),
        ("tennis_in_crowd.jpg", None),
        # half bodies and close-ups
        ("tennis_standing.jpg", "not full body"),
        ("boy_doughnut.jpg", "not full body"),
        ("on_bus.jpg", "not full body"),
        ("looking_at_computer.jpg", "not full body"),
        # a whole person, but small in a wide shot
        ("person_bench.jpg", "person too small"),
        ("snowboard.jpg", "person too small"),
    ],
)
def test_expected_decisions(built: Built, name: str, reason: str | None) -> None:
    s = _sources(built)[f"posenet-demo-images/{name}"]
    assert s["frames_seen"] == 1
    if reason is None:
        assert (s["entries"], s["discarded"]) == (1, {})
    else:
        assert (s["entries"], s["discarded"]) == (0, {reason: 1})


def test_video_is_deduplicated_not_emptied(built: Built) -> None:
    s = _sources(built)["pose_squats.mp4"]
    assert s["frames_seen"] == N_VIDEO_FRAMES and s["kind"] == "video"
    assert s["entries"] + sum(s["discarded"].values()) == N_VIDEO_FRAMES
    assert 1 <= s["entries"] < N_VIDEO_FRAMES and s["discarded"].get("near duplicate", 0) >= 1


def test_every_rendition_exists_with_display_size(built: Built) -> None:
    idx = GalleryIndex.open(built.path)
    assert len(idx) == built.summary.entries and idx.display_size == (960, 1080)
    for i in range(len(idx)):
        e = idx.entry(i)
        assert e.rendition == idx.rendition_path(i) and e.rendition.is_file()
        with Image.open(e.rendition) as im:
            assert im.size == (960, 1080) and im.format == "JPEG"
        ok = e.keypoints.scores >= 0.3
        xy = e.keypoints.xy[ok]
        assert np.all(xy >= -1) and np.all(xy <= np.array([961, 1081]))


def test_verify_passes(built: Built) -> None:
    assert problems(built.path) == []


def test_every_file_is_readable_by_other_users(built: Built) -> None:
    """The kiosk's service user reads an index a curator built (and deploy copies modes)."""
    for f in built.path.rglob("*"):
        if f.is_file():
            assert f.stat().st_mode & 0o044 == 0o044, f"{f} is not group/world readable"


@pytest.fixture(scope="module")
def scratch_copy(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("flip") / "index"
    shutil.copytree(built.path, dest)
    return dest


def _flip(path: Path, offset: int | None = None) -> bytes:
    data = path.read_bytes()
    i = len(data) // 2 if offset is None else offset
    path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :])
    return data


@pytest.mark.parametrize(
    "rel",
    ["manifest.json", "entries.json", "sources.json", "vectors.npy", "confidences.npy",
     "keypoints.npy", "tree.vpt", "renditions/000000.jpg"],
)
def test_flipped_byte_fails_verify(scratch_copy: Path, rel: str) -> None:
    original = _flip(scratch_copy / rel)
    try:
        found = problems(scratch_copy)
        assert found, f"a flipped byte in {rel} went unnoticed"
        assert rel in found[0] or (rel == "manifest.json" and "manifest" in found[0])
    finally:
        (scratch_copy / rel).write_bytes(original)
    assert problems(scratch_copy) == []


def test_flipped_byte_in_any_file_fails_verify(scratch_copy: Path) -> None:
    files = sorted(p for p in scratch_copy.rglob("*") if p.is_file())
    assert len(files) == built_files(scratch_copy)
    for p in files:
        for offset in (0, p.stat().st_size - 1):
            original = _flip(p, offset)
            try:
                assert problems(scratch_copy, deep=True), f"{p.name} byte {offset}"
            finally:
                p.write_bytes(original)


def built_files(root: Path) -> int:
    return len(json.loads((root / "manifest.json").read_text())["files"]) + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: (r / "renditions/000000.jpg").unlink(), "listed in the manifest but missing"),
        (lambda r: (r / "extra.txt").write_text("x"), "not listed in the manifest"),
        (lambda r: (r / "vectors.npy").write_bytes((r / "vectors.npy").read_bytes() + b"\0"),
         "size"),
    ],
)
def test_other_damage_is_named(built: Built, tmp_path: Path, change, message: str) -> None:
    root = tmp_path / "index"
    shutil.copytree(built.path, root)
    change(root)
    found = problems(root)
    assert found and message in found[0]


def test_self_retrieval(built: Built, shared_dir: Path, pose_model) -> None:
    """Each kept photo, used as a query seen as the builder sees photos (its views), finds
    itself first."""
    idx = GalleryIndex.open(built.path)
    photos = {
        idx.entry(i).source for i in range(len(idx)) if idx.entry(i).frame_time is None
    }
    assert len(photos) >= 5
    roots = {"posenet-demo-images": shared_dir / "data/posenet-demo-images", "coco": built.coco}
    seen = with_views(pose_model, Views.CROPS)
    for name in sorted(photos):
        folder, file = name.split("/", 1)
        pose = dominant(seen.estimate(load_image(roots[folder] / file)), 0.3)
        top = idx.query(pose, k=1)[0]
        assert idx.entry(top.entry_id).source == name, name
        assert top.distance < 1e-3


def test_strands_are_one_video_in_one_orientation(built: Built) -> None:
    """The frames of one video (one orientation) share a strand, the mirror's flipbook; every
    photo entry, and every mirrored twin, has its own."""
    idx = GalleryIndex.open(built.path)
    strands = idx.strands()
    entries = [idx.entry(i) for i in range(len(idx))]
    assert any(e.frame_time is not None for e in entries) and any(e.frame_time is None for e in entries)
    for a in entries:
        for b in entries:
            flipbook = (a.frame_time is not None and b.frame_time is not None
                        and a.source == b.source and a.mirrored == b.mirrored)
            assert (strands[a.id] == strands[b.id]) == (flipbook or a.id == b.id), (a.id, b.id)


# ---- robustness, incremental, atomic ---------------------------------------------------------
def test_bad_files_are_skipped_with_reasons(shared_dir: Path, tmp_path: Path, pose_model) -> None:
    folder = tmp_path / "bad"
    reasons = bad_files(folder, shared_dir / "data/posenet-demo-images/frisbee.jpg")
    (folder / "readme.txt").write_text("notes")
    s = build([folder], tmp_path / "out", BuildOptions(cache_dir=None), model=pose_model, progress=False)
    skipped = dict(s.skipped)
    assert set(skipped) == {f"bad/{n}" for n in [*reasons, "readme.txt"]}
    for n, reason in reasons.items():
        assert reason in skipped[f"bad/{n}"]
        assert str(tmp_path) not in skipped[f"bad/{n}"]  # names, not the curator's paths
    assert "unsupported file type '.txt'" in skipped["bad/readme.txt"]
    assert s.sources_read == 1 and s.sources_unreadable == 3 and s.entries == 1
    assert problems(tmp_path / "out") == []
    assert all(f"bad/{n}" in s.format() for n in reasons)


def test_hostile_file_names_stay_on_their_line(shared_dir: Path, tmp_path: Path, pose_model) -> None:
    """A newline, a terminal escape or a non-UTF-8 byte in a name: one summary line per file,
    shown as escapes, printable on a UTF-8 terminal."""
    folder = tmp_path / "odd"
    folder.mkdir()
    names = [b"new\nline  entries kept 999.jpg", b"\x1b[2Jwipe.jpg", b"bad\xffbyte.jpg"]
    for name in names:
        (folder / os.fsdecode(name)).write_bytes(b"not an image")
    shutil.copy(shared_dir / "data/posenet-demo-images/frisbee.jpg", folder / "frisbee.jpg")
    s = build([folder], tmp_path / "out", BuildOptions(cache_dir=None), model=pose_model, progress=False)
    text = s.format()
    text.encode("utf-8")
    lines = text.splitlines()
    assert all(line.isprintable() for line in lines)
    skipped = [line for line in lines if "skipped file" in line]
    assert len(skipped) == len(names)
    assert any("odd/new\\nline  entries kept 999.jpg: not a readable image" in line for line in skipped)
    assert any("odd/\\x1b[2Jwipe.jpg" in line for line in skipped)
    assert any("odd/bad\\udcffbyte.jpg" in line for line in skipped)
    assert sum(line.lstrip().startswith("entries kept") for line in lines) == 1


def test_incremental_rebuild_extracts_only_new_sources(shared_dir: Path, tmp_path: Path, pose_model) -> None:
    cache = tmp_path / "cache"
    first = ["backpackman.jpg", "frisbee.jpg", "frisbee_2.jpg"]
    folder = demo_folder(shared_dir, tmp_path / "photos", first)
    opts = BuildOptions(cache_dir=cache)
    s1 = build([folder], tmp_path / "out", opts, model=pose_model, progress=False)
    assert sorted(s1.sources_extracted) == [f"photos/{n}" for n in first]
    records = {p: p.stat().st_mtime_ns for p in (cache / "poses").rglob("*.json")}
    assert len(records) == 3
    again = build([folder], tmp_path / "out", opts, model=pose_model, progress=False)
    assert again.sources_extracted == [] and again.index_id == s1.index_id  # same from the cache

    demo_folder(shared_dir, folder, ["multi_skiing.jpg", "tennis_in_crowd.jpg"])
    s2 = build([folder], tmp_path / "out", opts, model=pose_model, progress=False)
    assert sorted(s2.sources_extracted) == ["photos/multi_skiing.jpg", "photos/tennis_in_crowd.jpg"]
    assert sorted(s2.sources_cached) == [f"photos/{n}" for n in first]
    assert {p: p.stat().st_mtime_ns for p in records} == records  # old records untouched
    assert len(list((cache / "poses").rglob("*.json"))) == 5

    # Filters apply after the cache: changing them re-runs nothing.
    s3 = build([folder], tmp_path / "out2", BuildOptions(cache_dir=cache, filters=Filters(full_body=False)),
               model=pose_model, progress=False)
    assert s3.sources_extracted == [] and len(s3.sources_cached) == 5


class Injected(RuntimeError):
    pass


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    real = builder_mod.process_source
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n:
            raise Injected("build interrupted midway")
        return real(*args, **kwargs)

    monkeypatch.setattr(builder_mod, "process_source", flaky)


def test_interrupted_build_leaves_no_out_dir(shared_dir, tmp_path, pose_model, monkeypatch) -> None:
    folder = demo_folder(shared_dir, tmp_path / "photos", ["backpackman.jpg", "frisbee.jpg", "frisbee_2.jpg"])
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(Injected):
        build([folder], tmp_path / "out", BuildOptions(), model=pose_model, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no OUT_DIR, no temp dir


def test_interrupted_build_keeps_the_good_index(shared_dir, tmp_path, pose_model, monkeypatch) -> None:
    folder = demo_folder(shared_dir, tmp_path / "photos", ["backpackman.jpg", "frisbee.jpg"])
    good = build([folder], tmp_path / "out", BuildOptions(), model=pose_model, progress=False)
    demo_folder(shared_dir, folder, ["frisbee_2.jpg", "multi_skiing.jpg"])
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(Injected):
        build([folder], tmp_path / "out", BuildOptions(), model=pose_model, progress=False)
    assert problems(tmp_path / "out") == []
    assert GalleryIndex.open(tmp_path / "out").index_id == good.index_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "photos"]


def test_nothing_kept_writes_nothing(shared_dir, tmp_path, pose_model) -> None:
    folder = demo_folder(shared_dir, tmp_path / "photos", ["looking_at_computer.jpg"])
    with pytest.raises(BuildError, match="no entries kept"):
        build([folder], tmp_path / "out", BuildOptions(), model=pose_model, progress=False)
    assert not (tmp_path / "out").exists()


def test_refuses_to_replace_a_non_index(shared_dir, tmp_path, pose_model) -> None:
    folder = demo_folder(shared_dir, tmp_path / "photos", ["frisbee.jpg"])
    (tmp_path / "home").mkdir()
    (tmp_path / "home/precious.txt").write_text("keep me")
    with pytest.raises(BuildError, match="not an index"):
        build([folder], tmp_path / "home", BuildOptions(), model=pose_model, progress=False)
    assert (tmp_path / "home/precious.txt").read_text() == "keep me"


# ---- options -----------------------------------------------------------------------------------
def test_mirror_adds_mirrored_entries(shared_dir: Path, tmp_path: Path, pose_model) -> None:
    from kiosk.match.normalize import flip_vector

    folder = demo_folder(shared_dir, tmp_path / "photos", ["backpackman.jpg", "frisbee.jpg"])
    s = build([folder], tmp_path / "out", BuildOptions(mirror=True), model=pose_model, progress=False)
    assert s.entries == 4 and s.mirrored_entries == 2
    idx = GalleryIndex.open(tmp_path / "out")
    vecs = np.asarray(idx.vectors())
    for i in range(0, len(idx), 2):
        a, b = idx.entry(i), idx.entry(i + 1)
        assert (a.mirrored, b.mirrored) == (False, True) and a.source == b.source
        assert a.crop_box == b.crop_box
        pa = np.asarray(Image.open(a.rendition).convert("L"), dtype=float)
        pb = np.asarray(Image.open(b.rendition).convert("L"), dtype=float)
        assert np.abs(pa[:, ::-1] - pb).mean() < 3.0  # JPEG noise only
        np.testing.assert_allclose(vecs[i + 1], flip_vector(vecs[i]), atol=1e-4)
        np.testing.assert_allclose(b.keypoints.xy[12, 0], 960 - a.keypoints.xy[11, 0], atol=1e-3)


def test_workers_give_the_same_index(shared_dir: Path, tmp_path: Path, models_dir: Path) -> None:
    folder = demo_folder(shared_dir, tmp_path / "photos", ["backpackman.jpg", "frisbee.jpg", "frisbee_2.jpg"])
    ids = []
    for n in (1, 2):
        opts = BuildOptions(model="movenet-lightning", models_dir=models_dir, workers=n)
        ids.append(build([folder], tmp_path / f"out{n}", opts, progress=False).index_id)
    assert ids[0] == ids[1]


def test_new_display_size_rerenders_from_cached_poses(built: Built, shared_dir: Path, tmp_path: Path,
                                                      pose_model) -> None:
    """Poses come from the cache; only the frames that are kept are decoded again and re-cut."""
    from kiosk.gallery.rendition import RenditionSpec

    video = shared_dir / "data/recordings/pose_squats.mp4"
    opts = BuildOptions(cache_dir=built.cache, spec=RenditionSpec(size=(480, 540)))
    s = build([video, shared_dir / "data/posenet-demo-images/frisbee.jpg"], tmp_path / "small", opts,
              model=pose_model, progress=False)
    assert s.sources_extracted == [] and len(s.sources_cached) == 2
    big = _sources(built)["pose_squats.mp4"]["entries"] + 1
    assert s.entries == big
    idx = GalleryIndex.open(tmp_path / "small", verify=True)
    assert idx.display_size == (480, 540)
    for i in range(len(idx)):
        with Image.open(idx.rendition_path(i)) as im:
            assert im.size == (480, 540)


@pytest.mark.parametrize(("model", "views"), [
    ({"name": "posenet-481x641"}, Views.PHOTO),  # built before views were recorded
    ({"name": "posenet-481x641", "views": "crops"}, Views.CROPS),
    ({"name": "posenet-481x641", "views": "photo"}, Views.PHOTO),
])
def test_a_query_photo_is_seen_as_the_index_saw_its_photos(model: dict[str, str], views: Views) -> None:
    from types import SimpleNamespace

    from kiosk.gallery.query import index_views

    assert index_views(SimpleNamespace(manifest={"model": model})) is views  # type: ignore[arg-type]


def test_the_manifest_records_the_views(built: Built) -> None:
    assert GalleryIndex.open(built.path).manifest["model"]["views"] == "crops"


@pytest.mark.parametrize(("views", "wrapped"), [(None, False), ("photo", False), ("crops", True)])
def test_index_query_loads_the_model_seeing_as_the_index_did(monkeypatch: pytest.MonkeyPatch,
                                                             views: str | None, wrapped: bool) -> None:
    from types import SimpleNamespace

    from kiosk.gallery.query import load_query_model
    from kiosk.pose import engine
    from kiosk.pose.fake import FakePoseModel
    from kiosk.pose.views import ViewsModel

    fake = FakePoseModel([[]])
    monkeypatch.setattr(engine, "load_pose_model", lambda name, models_dir=None: fake)
    model = {"name": "posenet-481x641"} | ({} if views is None else {"views": views})
    got = load_query_model(SimpleNamespace(manifest={"model": model}), None, None)  # type: ignore[arg-type]
    assert isinstance(got, ViewsModel) is wrapped and (wrapped or got is fake)
