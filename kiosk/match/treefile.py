"""The VP-tree file: one versioned, checksummed, memory-mappable file.

Layout (little-endian):
    0   8 bytes  magic b"KIOSKVPT"
    8   uint32   format version (FORMAT_VERSION)
    12  uint32   header length H in bytes
    16  H bytes  JSON header: n, dims, seed, metric, leaf_size, n_nodes, payload_offset,
                 payload_bytes, payload_sha256 and arrays {name: [offset, dtype, shape]}
                 (offsets from the start of the payload, each 64-byte aligned)
    payload_offset (64-byte aligned): the arrays, back to back, then end of file.
Any problem on reading raises IndexFormatError naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.safefile import FileRefused, open_regular

log = logging.getLogger(__name__)

MAGIC = b"KIOSKVPT"
FORMAT_VERSION = 1
_ALIGN = 64
_MAX_HEADER = 1 << 20


class IndexFormatError(ValueError):
    """A tree file is missing, truncated, corrupt or of an unsupported version."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def _align(x: int) -> int:
    return (x + _ALIGN - 1) // _ALIGN * _ALIGN


def write(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays and meta to path atomically; returns path."""
    layout: dict[str, list[Any]] = {}
    offset = 0
    blobs: list[tuple[int, bytes]] = []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        dt = a.dtype.newbyteorder("<")
        data = a.astype(dt, copy=False).tobytes()
        layout[name] = [offset, dt.str, list(a.shape)]
        blobs.append((offset, data))
        offset = _align(offset + len(data))
    payload = bytearray(offset)
    for off, data in blobs:
        payload[off : off + len(data)] = data
    header = dict(meta, arrays=layout, payload_bytes=len(payload),
                  payload_sha256=hashlib.sha256(payload).hexdigest())
    # payload_offset depends on the header length, which depends on payload_offset: iterate.
    header["payload_offset"] = 0
    for _ in range(3):
        text = json.dumps(header, sort_keys=True).encode()
        header["payload_offset"] = _align(16 + len(text) + 16)
    text = json.dumps(header, sort_keys=True).encode()
    pad = header["payload_offset"] - 16 - len(text)
    assert pad >= 0
    head = MAGIC + struct.pack("<II", FORMAT_VERSION, len(text)) + text + b" " * pad
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(head)
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    log.debug("wrote %s (%d bytes)", path, len(head) + len(payload))
    return path


def read(path: Path, names: tuple[str, ...], verify: bool = True
         ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(meta, arrays) of a tree file; arrays are read-only views of one memory map."""
    try:
        with open_regular(Path(path)) as f:
            size = os.fstat(f.fileno()).st_size
            first = f.read(16)
            if len(first) < 16 or first[:8] != MAGIC:
                raise IndexFormatError(path, "not a kiosk VP-tree file (bad magic or too short)")
            version, hlen = struct.unpack("<II", first[8:16])
            if version != FORMAT_VERSION:
                raise IndexFormatError(
                    path, f"format version {version}, this kiosk reads version {FORMAT_VERSION}")
            if hlen > _MAX_HEADER or 16 + hlen > size:
                raise IndexFormatError(path, "truncated or corrupt header")
            try:
                meta = json.loads(f.read(hlen).decode())
                p_off, p_len = int(meta["payload_offset"]), int(meta["payload_bytes"])
                layout = meta["arrays"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
                raise IndexFormatError(path, f"corrupt header ({e})") from None
            if p_off + p_len != size:
                raise IndexFormatError(
                    path, f"truncated or padded: {size} bytes, header says {p_off + p_len}")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    except FileRefused as e:
        raise IndexFormatError(path, str(e).removeprefix(f"{path}: ")) from None
    except OSError as e:
        raise IndexFormatError(path, f"cannot read ({e.strerror or e})") from None
    buf = memoryview(mm)[p_off:] if mm is not None else memoryview(b"")
    if verify and hashlib.sha256(buf).hexdigest() != meta.get("payload_sha256"):
        raise IndexFormatError(path, "checksum mismatch (corrupt payload)")
    arrays: dict[str, np.ndarray] = {}
    try:
        for name in names:
            off, dt, shape = layout[name]
            dtype = np.dtype(dt)
            count = int(np.prod(shape, dtype=np.int64))
            if off < 0 or off + count * dtype.itemsize > p_len:
                raise IndexFormatError(path, f"array {name!r} lies outside the payload")
            arrays[name] = np.frombuffer(buf, dtype=dtype, count=count, offset=off).reshape(shape)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, IndexFormatError):
            raise
        raise IndexFormatError(path, f"corrupt array table ({e})") from None
    return meta, arrays


def _fail(path: Path, problem: str) -> None:
    raise IndexFormatError(path, f"inconsistent tree structure: {problem}")


def check_structure(path: Path, tree: Any) -> None:
    """Validate shapes and node links so a corrupt (unverified) file cannot crash a search."""
    from kiosk.match.vptree_build import CHUNK, SKETCH_DIMS, STACK, WSKETCH_DIMS

    n, dims, n_nodes = len(tree), tree.dims, int(tree.meta["n_nodes"])
    sk = min(SKETCH_DIMS, dims)
    wt = min(WSKETCH_DIMS, dims)
    expect = {
        "tree_vectors": ((n, dims), np.float32), "tree_ids": ((n,), np.int32),
        "node_range": ((n_nodes, 2), np.int32),
        "node_child": ((n_nodes, 2), np.int32), "node_bounds": ((n_nodes, 4), np.float32),
        "node_box": ((n_nodes, 2, dims), np.uint16), "box_origin": ((dims,), np.float32),
        "box_step": ((dims,), np.float32), "pca_mean": ((dims,), np.float32),
        "pca_rot": ((sk, dims), np.float32), "sketch": ((n * sk,), np.int8),
        "sketch_step": ((sk,), np.float32), "node_sbox": ((n_nodes, 2, sk), np.int8),
        "node_chunk": ((n_nodes,), np.int32),
        "chunk_sbox": ((tree.chunk_sbox.shape[0], 2, sk), np.int8),
        "wsketch": ((n * wt,), np.uint8), "wsketch_dims": ((wt,), np.int32),
        "wsketch_origin": ((wt,), np.float32), "wsketch_step": ((wt,), np.float32),
    }
    for attr, (shape, dtype) in expect.items():
        a = getattr(tree, attr)
        if a.shape != shape or a.dtype != dtype:
            _fail(path, f"{attr} is {a.dtype}{a.shape}, expected {np.dtype(dtype)}{shape}")
    if (n == 0) != (n_nodes == 0):
        _fail(path, f"{n} vectors but {n_nodes} nodes")
    if n == 0:
        return
    ids = tree.tree_ids
    if ids.min() < 0 or ids.max() >= n:
        _fail(path, "ids out of range")
    rng, child = tree.node_range.astype(np.int64), tree.node_child.astype(np.int64)
    if (rng[0] != (0, n)).any() or (rng[:, 0] >= rng[:, 1]).any() or rng.min() < 0 or rng.max() > n:
        _fail(path, "node ranges out of order")
    internal = child[:, 0] >= 0
    idx = np.flatnonzero(internal)
    ci, co = child[idx, 0], child[idx, 1]
    if (child[~internal] != -1).any() or (ci <= idx).any() or (co <= idx).any() \
            or (ci >= n_nodes).any() or (co >= n_nodes).any():
        _fail(path, "child links out of range")
    leaf_size = int(tree.meta.get("leaf_size", 0))
    sizes = rng[~internal, 1] - rng[~internal, 0]
    if (sizes > leaf_size).any():
        _fail(path, f"a leaf holds more than leaf_size={leaf_size} points")
    first = tree.node_chunk[~internal].astype(np.int64)
    if (first < 0).any() or (first + (sizes + CHUNK - 1) // CHUNK > len(tree.chunk_sbox)).any():
        _fail(path, "leaf chunks out of range")
    if (rng[ci, 0] != rng[idx, 0] + 1).any() or (rng[ci, 1] != rng[co, 0]).any() \
            or (rng[co, 1] != rng[idx, 1]).any():
        _fail(path, "children do not partition their parent")
    depth = np.zeros(n_nodes, dtype=np.int64)
    for level in range(STACK):  # children have larger ids: propagate depth top-down
        new = depth.copy()
        new[ci] = depth[idx] + 1
        new[co] = depth[idx] + 1
        if (new == depth).all():
            break
        depth = new
        if level > STACK // 2:
            _fail(path, "tree too deep")
    wd = tree.wsketch_dims
    if len(wd) and (wd.min() < 0 or wd.max() >= dims):
        _fail(path, "wsketch_dims out of range")
    for name in ("box_step", "sketch_step", "wsketch_step"):
        scale = getattr(tree, name)
        if not (np.isfinite(scale).all() and (scale > 0).all()):
            _fail(path, f"{name} must be finite and > 0")
    for name in ("pca_mean", "pca_rot", "box_origin", "wsketch_origin"):
        if not np.isfinite(getattr(tree, name)).all():
            _fail(path, f"{name} must be finite")
