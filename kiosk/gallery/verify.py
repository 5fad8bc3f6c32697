"""The one check of an index directory, shared by `kiosk index verify` and the kiosk's open.

`inspect_index(path, deep)` returns (IndexData, []) for a usable index, or (None, problems),
each problem one sentence naming the file and what is wrong. `problems(path)` is the list alone.
It checks, in order:
  * the directory (the `current` symlink resolved; a symlink loop is refused);
  * manifest.json: its own checksum, format_version, the types of its fields;
  * every listed file: a plain name inside the directory (no `..`, no absolute path, no symlink
    on the way), a regular file (FIFOs, devices and sockets are refused without blocking), its
    size, and with deep=True its sha256; files not listed are reported;
  * index_id against the checksums; the required files are listed;
  * entries.json and sources.json: every field's type and range (kiosk.gallery.indexschema);
  * the arrays' shapes (and with deep=True that they are finite), the VP-tree file's header,
    version and structure, and with deep=True every rendition's pixel size.
deep=False (the kiosk's start) skips the sha256s, the finiteness scan and the rendition headers.
Nothing outside the directory is read or described.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.checksum import sha256_stream
from kiosk.core.safefile import FileRefused, check_regular, inside, open_regular, read_bytes, resolve_dir
from kiosk.gallery import indexschema as schema
from kiosk.gallery import manifest as mf

log = logging.getLogger(__name__)

_REQUIRED = (mf.ENTRIES, mf.SOURCES, mf.VECTORS, mf.CONFIDENCES, mf.KEYPOINTS)
_ARRAYS = ((mf.VECTORS, (34,)), (mf.CONFIDENCES, (17,)), (mf.KEYPOINTS, (17, 3)))


@dataclass
class IndexData:
    """What a checked index holds; arrays are memory-mapped read-only."""

    root: Path
    manifest: dict[str, Any]
    entries: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    vectors: np.ndarray
    keypoints: np.ndarray
    tree: Any


def _file_problem(root: Path, rel: str, info: dict[str, Any], deep: bool) -> str | None:
    try:
        p = inside(root, rel)
        size = check_regular(p, root=root).st_size
        if size != info["bytes"]:
            return f"{rel}: size {size} bytes, manifest says {info['bytes']}"
        if deep:
            with open_regular(p, root=root) as f:
                if sha256_stream(f) != info["sha256"]:
                    return f"{rel}: sha256 mismatch (file changed or corrupted)"
    except FileRefused as e:
        return str(e)
    except FileNotFoundError:
        return f"{rel}: listed in the manifest but missing"
    except OSError as e:
        return f"{rel}: cannot read ({e.strerror or e})"
    return None


def _unlisted(root: Path, files: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for folder, dirs, names in os.walk(root):  # never follows symlinks
        here = Path(folder)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                rel = (here / name).relative_to(root).as_posix()
                out.append(f"{rel}: a symlinked directory inside the index; it is not followed")
        for name in sorted(names):
            rel = (here / name).relative_to(root).as_posix()
            if rel != mf.MANIFEST and rel not in files:
                out.append(f"{rel}: file not listed in the manifest")
    return out


def _check_files(root: Path, manifest: dict[str, Any], deep: bool) -> list[str]:
    files = manifest["files"]
    out = [p for rel, info in files.items() if (p := _file_problem(root, rel, info, deep))]
    out.extend(_unlisted(root, files))
    if mf.compute_index_id(files) != manifest["index_id"]:
        out.append(f"{mf.MANIFEST}: index_id does not match the listed file checksums")
    out.extend(f"{r}: required file not listed in the manifest" for r in _REQUIRED if r not in files)
    return out


def _read_json(root: Path, name: str) -> tuple[Any, str | None]:
    try:
        return json.loads(read_bytes(root / name, root=root, max_bytes=mf.JSON_LIMIT)), None
    except (FileRefused, OSError, ValueError, RecursionError) as e:
        return None, f"{name}: unreadable ({e})"


def _records(root: Path, manifest: dict[str, Any]) -> tuple[list[Any], list[Any], list[str]]:
    entries_doc, p1 = _read_json(root, mf.ENTRIES)
    sources_doc, p2 = _read_json(root, mf.SOURCES)
    if p1 or p2:
        return [], [], [p for p in (p1, p2) if p]
    entries, out = schema.json_list(entries_doc, "entries", mf.ENTRIES)
    sources, bad = schema.json_list(sources_doc, "sources", mf.SOURCES)
    out += bad
    if out:
        return [], [], out
    counts = manifest["counts"]
    if len(entries) != counts["entries"]:
        out.append(f"{mf.ENTRIES}: {len(entries)} entries, manifest counts.entries says {counts['entries']}")
    if len(sources) != counts["sources_indexed"]:
        out.append(f"{mf.SOURCES}: {len(sources)} sources, manifest counts.sources_indexed says"
                   f" {counts['sources_indexed']}")
    out += schema.check_sources(sources)
    out += schema.check_entries(entries, len(sources), manifest["files"])
    return entries, sources, out


def _arrays(root: Path, n: int, deep: bool) -> tuple[dict[str, np.ndarray], list[str]]:
    arrays: dict[str, np.ndarray] = {}
    out: list[str] = []
    for name, shape in _ARRAYS:
        try:
            a = np.load(root / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as e:
            out.append(f"{name}: unreadable ({e})")
            continue
        if a.shape != (n, *shape) or a.dtype != np.float32:
            out.append(f"{name}: {a.dtype}{a.shape}, expected float32{(n, *shape)}")
        elif deep and not np.isfinite(a).all():
            out.append(f"{name}: holds NaN or infinite values")
        arrays[name] = a
    return arrays, out


def _tree(root: Path, manifest: dict[str, Any], n: int) -> tuple[Any, list[str]]:
    name = manifest.get("vector", {}).get("tree")
    if not name or not n:
        return None, []
    try:
        from kiosk.match.vptree import VPTree
    except ImportError:  # matching package without a tree: exact search instead
        log.warning("VP-tree unavailable; searching %d entries exhaustively", n)
        return None, []
    if not isinstance(name, str) or name not in manifest["files"]:
        return None, [f"{mf.MANIFEST}: vector.tree {name!r} is not a file listed in the manifest"]
    try:
        tree = VPTree.load(root / name, verify=False)  # deep: the file's sha256 is checked above
    except (OSError, ValueError) as e:
        return None, [f"{name}: cannot load the VP-tree ({e})"]
    if len(tree) != n or tree.dims != 34:
        return None, [f"{name}: {len(tree)} vectors of {tree.dims} dims, expected {n} of 34"]
    return tree, []


def _renditions(root: Path, entries: list[dict[str, Any]], want: tuple[int, ...]) -> list[str]:
    from PIL import Image

    out: list[str] = []
    for e in entries:
        try:
            with open_regular(root / e["rendition"], root=root) as f, Image.open(f) as im:
                size = im.size
        except Exception as err:  # any decoder failure is a finding
            out.append(f"{e['rendition']}: unreadable image ({err})")
            continue
        if size != want:
            out.append(f"{e['rendition']}: size {size}, display_size is {want}")
    return out


def inspect_index(path: Path, deep: bool = True) -> tuple[IndexData | None, list[str]]:
    """(IndexData, []) for a usable index, else (None, every problem found)."""
    try:
        root = resolve_dir(Path(path), "index directory")
        manifest = mf.read_manifest(root)
    except (FileRefused, mf.IndexLoadError) as e:
        return None, [str(e)]
    except FileNotFoundError:
        return None, [f"{path}: not a directory: nothing there (build an index with kiosk index build "
                      "and deploy it)"]
    except OSError as e:
        return None, [f"{path}: {e.strerror or e}"]
    out = schema.check_manifest(manifest) or _check_files(root, manifest, deep)
    if out:
        return None, out
    entries, sources, out = _records(root, manifest)
    arrays, bad = _arrays(root, len(entries), deep)
    out += bad
    if out:
        return None, out
    tree, out = _tree(root, manifest, len(entries))
    if deep and not out:
        out = _renditions(root, entries, tuple(manifest["display_size"]))
    if out:
        return None, out
    return IndexData(root, manifest, entries, sources, arrays[mf.VECTORS], arrays[mf.KEYPOINTS], tree), []


def problems(root: Path, deep: bool = True) -> list[str]:
    """Every problem found in the index at root (empty: intact)."""
    return inspect_index(root, deep)[1]
