"""`kiosk index verify`: format version, every checksum, counts and rendition sizes.

`problems(root)` returns every mismatch found, each one sentence naming the file and what is
wrong; an empty list means the index is intact. `deep=False` (what the kiosk does on start)
skips the sha256 of every file and the rendition headers but checks presence, sizes and counts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.checksum import sha256_file
from kiosk.gallery import manifest as mf

log = logging.getLogger(__name__)


def _check_files(root: Path, files: dict[str, dict[str, Any]], deep: bool) -> list[str]:
    out: list[str] = []
    for rel, info in files.items():
        p = root / rel
        if not p.is_file():
            out.append(f"{rel}: listed in the manifest but missing")
            continue
        size = p.stat().st_size
        if size != info.get("bytes"):
            out.append(f"{rel}: size {size} bytes, manifest says {info.get('bytes')}")
        elif deep and sha256_file(p) != info.get("sha256"):
            out.append(f"{rel}: sha256 mismatch (file changed or corrupted)")
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and p.name != mf.MANIFEST and rel not in files:
            out.append(f"{rel}: file not listed in the manifest")
    return out


def _check_counts(root: Path, manifest: dict[str, Any], deep: bool) -> list[str]:
    out: list[str] = []
    counts = manifest.get("counts", {})
    n = counts.get("entries")
    try:
        entries = json.loads((root / mf.ENTRIES).read_text())["entries"]
        sources = json.loads((root / mf.SOURCES).read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"{mf.ENTRIES}/{mf.SOURCES}: unreadable ({e})"]
    if len(entries) != n:
        out.append(f"{mf.ENTRIES}: {len(entries)} entries, manifest counts.entries says {n}")
    if len(sources) != counts.get("sources_indexed"):
        out.append(
            f"{mf.SOURCES}: {len(sources)} sources, manifest counts.sources_indexed says"
            f" {counts.get('sources_indexed')}"
        )
    for name, shape in ((mf.VECTORS, (34,)), (mf.CONFIDENCES, (17,)), (mf.KEYPOINTS, (17, 3))):
        try:
            a = np.load(root / name, mmap_mode="r")
        except (OSError, ValueError) as e:
            out.append(f"{name}: unreadable ({e})")
            continue
        if a.shape != (len(entries), *shape):
            out.append(f"{name}: shape {a.shape}, expected {(len(entries), *shape)}")
    files = manifest.get("files", {})
    want = tuple(manifest.get("display_size", ()))
    for i, e in enumerate(entries):
        if e.get("id") != i:
            out.append(f"{mf.ENTRIES}: entry #{i} has id {e.get('id')!r}")
            break
        if not (0 <= e.get("source", -1) < len(sources)):
            out.append(f"{mf.ENTRIES}: entry {i} refers to unknown source {e.get('source')!r}")
        if e.get("rendition") not in files:
            out.append(f"{mf.ENTRIES}: entry {i} rendition {e.get('rendition')!r} not in the index")
        elif deep:
            from PIL import Image

            try:
                with Image.open(root / e["rendition"]) as im:
                    size = im.size
            except Exception as err:  # any decoder failure is a finding
                out.append(f"{e['rendition']}: unreadable image ({err})")
                continue
            if size != want:
                out.append(f"{e['rendition']}: size {size}, display_size is {want}")
    return out


def problems(root: Path, deep: bool = True) -> list[str]:
    """Every problem found in the index at root (empty: intact)."""
    root = Path(root)
    try:
        manifest = mf.read_manifest(root)
    except mf.IndexLoadError as e:
        return [str(e)]
    files = manifest["files"]
    out = _check_files(root, files, deep)
    if mf.compute_index_id(files) != manifest["index_id"]:
        out.append(f"{mf.MANIFEST}: index_id does not match the listed file checksums")
    for required in (mf.ENTRIES, mf.SOURCES, mf.VECTORS, mf.CONFIDENCES, mf.KEYPOINTS):
        if required not in files:
            out.append(f"{required}: required file not listed in the manifest")
    if not out:
        out.extend(_check_counts(root, manifest, deep))
    return out
