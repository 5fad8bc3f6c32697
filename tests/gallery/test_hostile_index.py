"""Hostile index directories: `kiosk index verify` and GalleryIndex.open share one check and both
refuse, with a sentence naming the file, every one of: special files, paths leaving the directory
(`..`, absolute, symlinks, symlinked directories), a `current` symlink loop, malformed entries and
sources, wrong-typed JSON, a truncated tree. Nothing outside the index is described. A real index
built from the shared photos is the starting material; each test damages its own copy, with the
manifest re-signed so the damage gets past the checksums."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.cli.main import main
from kiosk.core.checksum import sha256_file
from kiosk.gallery import manifest as mf
from kiosk.gallery.builder import BuildOptions, build
from kiosk.gallery.indexschema import check_entries, check_manifest
from kiosk.gallery.reader import GalleryIndex, IndexLoadError
from kiosk.gallery.verify import inspect_index

PHOTOS = ["baseball.jpg", "tennis_standing.jpg", "skiing.jpg", "frisbee.jpg", "soccer.png"]
SECRET_SIZE = 98765


@pytest.fixture(scope="module")
def small_index(shared_dir: Path, pose_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    photos = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        shutil.copy(shared_dir / "data/posenet-demo-images" / name, photos / name)
    out = tmp_path_factory.mktemp("small") / "index"
    build([photos], out, BuildOptions(mirror=True), model=pose_model, progress=False)
    assert len(GalleryIndex.open(out, verify=True)) >= 2
    return out


@pytest.fixture()
def index(small_index: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "releases" / "idx"
    shutil.copytree(small_index, dest)
    (tmp_path / "secret.bin").write_bytes(b"s" * SECRET_SIZE)
    return dest


def resign(root: Path, mutate: Callable[[dict[str, Any]], None] = lambda m: None) -> None:
    """Refresh every listed file's sha256/bytes, apply mutate, re-sign the manifest."""
    m = json.loads((root / mf.MANIFEST).read_text())
    for rel, info in m["files"].items():
        p = root / rel
        if p.is_file() and not p.is_symlink():
            info.update(sha256=sha256_file(p), bytes=p.stat().st_size)
    mutate(m)
    if isinstance(m.get("files"), dict):
        try:
            m["index_id"] = mf.compute_index_id(m["files"])
        except (TypeError, KeyError):
            pass
    m["manifest_sha256"] = "0" * 64
    raw = (json.dumps(m, indent=1) + "\n").encode()
    _, digest = mf._self_digest(raw)
    zero = b'"manifest_sha256": "' + b"0" * 64
    (root / mf.MANIFEST).write_bytes(raw.replace(zero, zero[:-64] + digest.encode()))


def edit_json(root: Path, name: str, edit: Callable[[Any], Any]) -> None:
    doc = json.loads((root / name).read_text())
    (root / name).write_text(json.dumps(edit(doc)))
    resign(root)


def set_entry(key: str, value: Any, i: int = 0) -> Callable[[Any], Any]:
    def edit(doc: Any) -> Any:
        doc["entries"][i][key] = value
        return doc
    return edit


def fifo(root: Path, name: str) -> None:
    (root / name).unlink()
    os.mkfifo(root / name)


def outside_symlink(root: Path, name: str) -> None:
    (root / name).unlink()
    (root / name).symlink_to(root.parent.parent / "secret.bin")


def list_outside(path: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        resign(root, lambda m: m["files"].__setitem__(path, {"sha256": "0" * 64, "bytes": SECRET_SIZE}))
    return damage


def symlinked_renditions(root: Path) -> None:
    real = root.parent.parent / "elsewhere"
    shutil.move(root / mf.RENDITIONS, real)
    (root / mf.RENDITIONS).symlink_to(real)


def truncate_tree(root: Path) -> None:
    tree = root / mf.TREE
    tree.write_bytes(tree.read_bytes()[:200])
    resign(root)


DAMAGE: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "fifo manifest": (lambda r: fifo(r, mf.MANIFEST), ["manifest.json", "FIFO"]),
    "fifo entries": (lambda r: fifo(r, mf.ENTRIES), ["entries.json", "FIFO"]),
    "device vectors": (lambda r: ((r / mf.VECTORS).unlink(), (r / mf.VECTORS).symlink_to("/dev/zero")),
                       ["vectors.npy", "symlink"]),
    "symlink out": (lambda r: outside_symlink(r, mf.SOURCES), ["sources.json", "symlink"]),
    "dotdot listed": (list_outside("../../secret.bin"), ["leaves the directory"]),
    "absolute listed": (list_outside("/etc/hostname"), ["leaves the directory"]),
    "symlinked dir": (symlinked_renditions, ["renditions", "symlink"]),
    "crop_box strings": (lambda r: edit_json(r, mf.ENTRIES, set_entry("crop_box", ["a", "b", "c", "d"])),
                         ["entry 0", "crop_box"]),
    "crop_box nan": (lambda r: edit_json(r, mf.ENTRIES, set_entry("crop_box", [0, 0, math.nan, 5])),
                     ["entry 0", "crop_box"]),
    "crop_box inverted": (lambda r: edit_json(r, mf.ENTRIES, set_entry("crop_box", [9, 9, 1, 1], 1)),
                          ["entry 1", "inverted"]),
    "source not int": (lambda r: edit_json(r, mf.ENTRIES, set_entry("source", "0")), ["entry 0", "source"]),
    "rendition escapes": (lambda r: edit_json(r, mf.ENTRIES, set_entry("rendition", "../../secret.bin")),
                          ["entry 0", "rendition"]),
    "mirrored string": (lambda r: edit_json(r, mf.ENTRIES, set_entry("mirrored", "no")), ["mirrored"]),
    "sources not objects": (lambda r: edit_json(r, mf.SOURCES,
                                                lambda d: {"sources": ["a"] * len(d["sources"])}),
                            ["source 0", "expected an object"]),
    "title not text": (lambda r: edit_json(r, mf.SOURCES,
                                           lambda d: (d["sources"][0].update(title=[1]), d)[1]),
                       ["source 0", "title"]),
    "entries a number": (lambda r: edit_json(r, mf.ENTRIES, lambda d: {"entries": 5}), ["entries.json"]),
    "entries top-level list": (lambda r: edit_json(r, mf.ENTRIES, lambda d: []), ["entries.json"]),
    "manifest files a list": (lambda r: resign(r, lambda m: m.__setitem__("files", [])), ["files"]),
    "manifest top-level list": (lambda r: (r / mf.MANIFEST).write_text("[]"), ["manifest.json"]),
    "display_size strings": (lambda r: resign(r, lambda m: m.__setitem__("display_size", ["a", "b"])),
                             ["display_size"]),
    "unknown views": (lambda r: resign(r, lambda m: m["model"].__setitem__("views", "dreams")),
                      ["model.views", "photo, crops"]),
    "calibration a string": (lambda r: resign(r, lambda m: m.__setitem__("calibration", "x")),
                             ["calibration.tables", "rebuild"]),
    "calibration table short": (lambda r: resign(r, lambda m: m["calibration"]["tables"]["trimmed"]
                                                 .__setitem__("full", [0.1, 0.2])),
                                ["calibration.tables.trimmed", "101 finite numbers"]),
    "calibration table nan": (lambda r: resign(r, lambda m: m["calibration"]["tables"]
                                               .__setitem__("cosine", [math.nan] * 101)),
                              ["calibration.tables.cosine"]),
    "calibration distances a list": (lambda r: resign(r, lambda m: m["calibration"]
                                                      .__setitem__("distances", ["trimmed"])),
                                     ["calibration.distances"]),
    "truncated tree": (truncate_tree, ["tree.vpt"]),
    "unlisted fifo": (lambda r: os.mkfifo(r / "extra"), ["extra", "not listed"]),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_verify_and_open_refuse_the_same_damage(index: Path, case: str, capsys) -> None:
    damage, words = DAMAGE[case]
    damage(index)
    data, found = inspect_index(index, deep=True)
    assert data is None and found
    text = " ".join(found)
    for word in words:
        assert word in text, found
    assert str(SECRET_SIZE) not in text  # nothing about the file outside (the index's own words only)
    for deep in (False, True):
        with pytest.raises(IndexLoadError) as err:
            GalleryIndex.open(index, verify=deep)
        assert found[0] in str(err.value)
    assert main(["index", "verify", str(index)]) == 1
    err_text = capsys.readouterr().err
    assert "FAIL" in err_text and "Traceback" not in err_text


def test_a_current_symlink_loop_is_named(tmp_path: Path) -> None:
    (tmp_path / "current").symlink_to(tmp_path / "next")
    (tmp_path / "next").symlink_to(tmp_path / "current")
    data, found = inspect_index(tmp_path / "current")
    assert data is None and "symlink loop" in found[0]
    with pytest.raises(IndexLoadError, match="symlink loop"):
        GalleryIndex.open(tmp_path / "current")


def test_the_intact_copy_passes(index: Path) -> None:
    resign(index)
    data, found = inspect_index(index, deep=True)
    assert found == [] and data is not None


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True)
                    | st.text(max_size=8), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
COORD = st.floats(-1e4, 1e4) | st.integers(-10**4, 10**4)
BOX = st.tuples(COORD, COORD, st.floats(0.5, 1e4), st.floats(0.5, 1e4)).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]])
VALID = {"id": st.just(0), "source": st.just(0), "frame_time": st.none() | st.floats(0, 1e4),
         "crop_box": BOX, "mirrored": st.booleans(), "pose_score": st.floats(0, 1),
         "rendition": st.just("renditions/000000.jpg")}
SOURCE = st.fixed_dictionaries({"name": st.text(max_size=5)}, optional={"title": JSON, "credit": JSON})
#: Each field valid three times in four, else any JSON value: both outcomes are common.
ENTRY = st.fixed_dictionaries({k: st.one_of(v, v, v, JSON) for k, v in VALID.items()})


@settings(max_examples=300, deadline=None)
@given(entry=st.one_of(ENTRY, ENTRY, ENTRY, JSON), source=st.one_of(*[SOURCE] * 3, JSON))
def test_an_entry_that_passes_the_check_can_be_shown(small_index: Path, entry: Any, source: Any) -> None:
    """Whatever JSON an entry holds: the check refuses it, or entry() (what render uses) works."""
    files = {"renditions/000000.jpg": {}}
    if check_entries([entry], 1, files) or not isinstance(source, dict) or _bad_source(source):
        return
    kp = np.zeros((1, 17, 3), np.float32)
    manifest = {"index_id": "x", "display_size": [4, 4]}
    index = GalleryIndex(small_index, manifest, [entry], [source], np.zeros((1, 34), np.float32), kp, None)
    e = index.entry(0)
    assert len(e.crop_box) == 4 and all(math.isfinite(v) for v in e.crop_box)


def _bad_source(source: dict[str, Any]) -> bool:
    from kiosk.gallery.indexschema import check_sources

    return bool(check_sources([source]))


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_manifest_json_is_checked_without_an_exception(value: Any) -> None:
    assert isinstance(check_manifest(value), list)


def test_sigterm_ends_a_verify_in_progress(index: Path) -> None:
    """A 3 GB listed file takes seconds to hash; SIGTERM still ends `kiosk index verify` at once."""
    big = index / "renditions" / "zz_big.bin"
    with open(big, "wb") as f:
        f.truncate(3 << 30)  # sparse: no disk used
    resign(index, lambda m: m["files"].__setitem__("renditions/zz_big.bin",
                                                   {"sha256": "0" * 64, "bytes": 3 << 30}))
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "index", "verify", str(index)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    assert proc.poll() is None, "verify ended before the signal"
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("kiosk index verify ignored SIGTERM") from None
    assert code == -signal.SIGTERM


def test_verify_of_a_fifo_manifest_ends_in_a_real_process(index: Path) -> None:
    fifo(index, mf.MANIFEST)
    result = subprocess.run([sys.executable, "-m", "kiosk", "index", "verify", str(index)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1 and "FIFO" in result.stderr and "Traceback" not in result.stderr
