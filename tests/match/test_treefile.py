from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import numpy as np
import pytest

from kiosk.match import IndexFormatError, VPTree
from kiosk.match.treefile import FORMAT_VERSION, MAGIC
from tests.match.conftest import synth


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    v, _ = synth(1000, 31)
    path = tmp_path_factory.mktemp("tree") / "tree.vpt"
    VPTree.build(v, seed=5).save(path)
    return path, v


def corrupt_copy(src: Path, dst: Path, edit) -> Path:
    data = bytearray(src.read_bytes())
    dst.write_bytes(bytes(edit(data)))
    return dst


def header_of(data: bytes) -> tuple[dict, int]:
    (hlen,) = struct.unpack("<I", data[12:16])
    return json.loads(data[16 : 16 + hlen]), hlen


def test_round_trip_is_memory_mapped_and_identical(saved, backend: str) -> None:
    path, v = saved
    tree = VPTree.load(path)
    built = VPTree.build(v, seed=5)
    assert len(tree) == 1000 and tree.dims == 34 and tree.path == path
    q, conf = synth(10, 32)
    for a, b in zip(tree.search(q, k=4), built.search(q, k=4), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(tree.search_weighted(q, conf, k=4), built.search_weighted(q, conf, k=4),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(tree.vectors, v)
    assert not tree.tree_vectors.flags.writeable
    base = tree.tree_vectors
    while getattr(base, "base", None) is not None:
        base = base.base
    assert isinstance(base, mmap.mmap | memoryview)


def test_header_is_versioned_and_describes_the_tree(saved) -> None:
    path, v = saved
    data = path.read_bytes()
    assert data[:8] == MAGIC
    assert struct.unpack("<I", data[8:12])[0] == FORMAT_VERSION
    header, _ = header_of(data)
    assert header["n"] == 1000 and header["dims"] == 34 and header["seed"] == 5
    assert len(header["payload_sha256"]) == 64
    # compact: within 1.3x the float32 vectors
    assert len(data) <= 1.3 * v.nbytes


def test_empty_tree_round_trips(tmp_path: Path) -> None:
    tree = VPTree.build(np.zeros((0, 34), np.float32))
    loaded = VPTree.load(tree.save(tmp_path / "empty.vpt"))
    assert len(loaded) == 0
    ids, d = loaded.search(np.ones(34), k=2)
    assert (ids == -1).all() and np.isinf(d).all()


def _bump_version(d: bytearray) -> bytearray:
    d[8:12] = struct.pack("<I", FORMAT_VERSION + 1)
    return d


def _flip_payload_byte(d: bytearray) -> bytearray:
    d[-100] ^= 0xFF
    return d


def _garble_header(d: bytearray) -> bytearray:
    d[20:30] = b"\xff" * 10
    return d


@pytest.mark.parametrize(("name", "edit", "message"), [
    ("truncated", lambda d: d[: len(d) // 2], "truncated"),
    ("one byte short", lambda d: d[:-1], "truncated"),
    ("trailing garbage", lambda d: d + b"x", "truncated or padded"),
    ("empty", lambda d: b"", "bad magic"),
    ("bad magic", lambda d: b"NOTATREE" + d[8:], "bad magic"),
    ("wrong version", _bump_version, "format version"),
    ("corrupt payload", _flip_payload_byte, "checksum"),
    ("corrupt header", _garble_header, "header"),
])
def test_bad_files_raise_one_clear_error(saved, tmp_path: Path, name: str, edit,
                                         message: str) -> None:
    path, _ = saved
    bad = corrupt_copy(path, tmp_path / "bad.vpt", edit)
    with pytest.raises(IndexFormatError, match=message) as info:
        VPTree.load(bad)
    assert str(bad) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match="cannot read"):
        VPTree.load(tmp_path / "nope.vpt")


@pytest.mark.parametrize("array", ["node_child", "node_range", "ids"])
def test_structural_corruption_is_caught_even_without_the_checksum(saved, tmp_path: Path,
                                                                   array: str) -> None:
    path, _ = saved

    def edit(d: bytearray) -> bytearray:
        header, _ = header_of(d)
        off = header["payload_offset"] + header["arrays"][array][0]
        d[off + 8 : off + 12] = struct.pack("<i", 10**8)  # a link/range/id far out of range
        return d

    bad = corrupt_copy(path, tmp_path / "bad.vpt", edit)
    with pytest.raises(IndexFormatError, match="checksum"):
        VPTree.load(bad)
    with pytest.raises(IndexFormatError, match="inconsistent tree structure"):
        VPTree.load(bad, verify=False)
