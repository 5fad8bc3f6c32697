"""Sidecar metadata through the one YAML loader and file opener: hostile files are MetadataErrors
naming the file and the problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.gallery.metadata import MetadataError, MetadataTable
from tests.core.test_hostile_yaml import billion_laughs


@pytest.mark.parametrize(("name", "make", "words"), [
    ("m.yaml", lambda p: p.write_text(billion_laughs()), ["aliases", "line 1"]),
    ("m.yaml", lambda p: p.write_text("a.jpg:\n  title: x\na.jpg:\n  title: y\n"),
     ["duplicate key", "line 3"]),
    ("m.yaml", lambda p: p.write_bytes("a.jpg: {title: x}\n".encode("utf-16")), ["UTF-16"]),
    ("m.csv", lambda p: p.write_bytes(b"source,title\na.jpg,caf\xe9\n"), ["0xe9", "UTF-8"]),
    ("m.csv", lambda p: os.mkfifo(p), ["FIFO"]),
    ("m.yaml", lambda p: p.write_bytes(b"#" * (2 << 20)), ["limit"]),
])
def test_hostile_sidecars_are_refused(tmp_path: Path, name: str, make, words: list[str]) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(MetadataError) as err:
        MetadataTable.load([path])
    assert str(path) in str(err.value)
    for word in words:
        assert word in str(err.value)
