"""sha256 of files: model pins, index manifests and the builder's content-hash cache."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO


def sha256_stream(f: BinaryIO, chunk: int = 1 << 20) -> str:
    """Hex sha256 of the rest of an open binary file, read in chunks."""
    h = hashlib.sha256()
    while block := f.read(chunk):
        h.update(block)
    return h.hexdigest()


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    with open(path, "rb") as f:
        return sha256_stream(f, chunk)
