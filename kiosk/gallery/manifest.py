"""The index manifest: what an index is, what built it, and the sha256 of every file in it.

manifest.json is written last, into the temp directory, before the directory is renamed into
place. It carries its own checksum (`manifest_sha256`: the sha256 of the file's bytes with that
field's value replaced by 64 zeros), so a flipped byte anywhere, the manifest included, is
detected. `index_id` is derived from the file checksums: the same content gives the same id.
See index/README.md for every field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.core.checksum import sha256_file
from kiosk.core.safefile import FileRefused, read_bytes
from kiosk.gallery.cache import atomic_write

log = logging.getLogger(__name__)

#: 2: visible/ profile trees and the distance calibration (1 still opens: both are computed).
FORMAT_VERSION = 2
SUPPORTED_FORMATS = (1, 2)
MANIFEST = "manifest.json"
ENTRIES = "entries.json"
SOURCES = "sources.json"
VECTORS = "vectors.npy"
CONFIDENCES = "confidences.npy"
KEYPOINTS = "keypoints.npy"
TREE = "tree.vpt"
RENDITIONS = "renditions"
#: Size cap of the index's JSON files (the manifest lists every file: ~120 bytes per entry).
JSON_LIMIT = 1 << 30

_ZERO = "0" * 64
_SELF_RE = re.compile(rb'"manifest_sha256": "([0-9a-f]{64})"')


class IndexLoadError(Exception):
    """An index cannot be used; the message names the file, the problem and how to fix it."""


def builder_version() -> str:
    from kiosk import __version__

    return f"kiosk {__version__}"


def list_files(root: Path) -> dict[str, dict[str, Any]]:
    """{relative posix path: {"sha256", "bytes"}} of every file under root except the manifest."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            out[p.relative_to(root).as_posix()] = {
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
            }
    return out


def compute_index_id(files: dict[str, dict[str, Any]]) -> str:
    blob = json.dumps({k: v["sha256"] for k, v in sorted(files.items())}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _self_digest(raw: bytes) -> tuple[str | None, str]:
    """(recorded manifest_sha256 or None, the digest computed over the zeroed bytes)."""
    m = _SELF_RE.search(raw)
    if not m:
        return None, hashlib.sha256(raw).hexdigest()
    zeroed = raw[: m.start(1)] + _ZERO.encode() + raw[m.end(1) :]
    return m.group(1).decode(), hashlib.sha256(zeroed).hexdigest()


def write_manifest(root: Path, body: dict[str, Any]) -> dict[str, Any]:
    """Checksum every file under root and write root/manifest.json. Returns the manifest."""
    files = list_files(root)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "index_id": compute_index_id(files),
        "builder_version": builder_version(),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **body,
        "files": files,
        "manifest_sha256": _ZERO,
    }
    raw = (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode()
    _, digest = _self_digest(raw)
    raw = raw.replace(f'"manifest_sha256": "{_ZERO}"'.encode(), f'"manifest_sha256": "{digest}"'.encode())
    atomic_write(root / MANIFEST, raw)
    manifest["manifest_sha256"] = digest
    return manifest


def read_manifest(root: Path) -> dict[str, Any]:
    """Parse and self-check manifest.json; raises IndexLoadError with a precise reason."""
    path = Path(root) / MANIFEST
    if not Path(root).is_dir():
        raise IndexLoadError(f"{root}: not a directory (expected a built index: kiosk index build)")
    try:
        raw = read_bytes(path, root=Path(root), max_bytes=JSON_LIMIT)
    except FileNotFoundError:
        raise IndexLoadError(
            f"{path}: missing; {root} is not a complete index (rebuild it with kiosk index build)"
        ) from None
    except FileRefused as e:
        raise IndexLoadError(f"{e}; redeploy or rebuild the index") from None
    except OSError as e:
        raise IndexLoadError(f"{path}: cannot read ({e.strerror or e})") from None
    recorded, digest = _self_digest(raw)
    if recorded is None:
        raise IndexLoadError(f"{path}: no manifest_sha256 field (corrupt or not an index manifest)")
    if recorded != digest:
        raise IndexLoadError(
            f"{path}: manifest checksum mismatch (recorded {recorded[:12]}…, actual {digest[:12]}…);"
            " the manifest was edited or corrupted: redeploy or rebuild the index"
        )
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise IndexLoadError(f"{path}: invalid JSON ({e}); rebuild the index") from None
    if not isinstance(manifest, dict):
        raise IndexLoadError(f"{path}: expected a JSON object, got {type(manifest).__name__}; "
                             "rebuild the index")
    fv = manifest.get("format_version")
    if fv not in SUPPORTED_FORMATS:
        raise IndexLoadError(
            f"{path}: format_version {fv!r} is not supported (this kiosk reads {SUPPORTED_FORMATS});"
            " rebuild the index with this kiosk's `kiosk index build` or upgrade the kiosk"
        )
    for key in ("index_id", "files", "counts", "display_size", "model"):
        if key not in manifest:
            raise IndexLoadError(f"{path}: missing field {key!r}; rebuild the index")
    return manifest
