from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.gallery.metadata import MetadataError, MetadataTable, SourceMeta


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


CSV = """source,title,credit,license,link
photos/a.jpg,Jump,Ann,CC BY 4.0,https://example.org/a
b.jpg,Run,Bob,CC0,
videos/*,Dance,Cy,CC BY-SA,https://example.org/v
"""

YAML_MAP = """
photos/a.jpg: {title: Jump, credit: Ann, licence: CC BY 4.0, link: https://example.org/a}
b.jpg: {title: Run, credit: Bob, licence: CC0}
"videos/*": {title: Dance, credit: Cy, licence: CC BY-SA, link: https://example.org/v}
"""

YAML_LIST = """
- {source: photos/a.jpg, title: Jump, credit: Ann, licence: CC BY 4.0, link: https://example.org/a}
- {source: b.jpg, title: Run, credit: Bob, licence: CC0}
- {source: "videos/*", title: Dance, credit: Cy, licence: CC BY-SA, link: https://example.org/v}
"""


@pytest.mark.parametrize(("name", "text"), [("m.csv", CSV), ("m.yaml", YAML_MAP), ("m.yml", YAML_LIST)])
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("photos/a.jpg", SourceMeta("Jump", "Ann", "CC BY 4.0", "https://example.org/a")),
        ("other/b.jpg", SourceMeta("Run", "Bob", "CC0", "")),  # matched by file name
        ("videos/x.mp4", SourceMeta("Dance", "Cy", "CC BY-SA", "https://example.org/v")),  # glob
        ("photos/zzz.jpg", SourceMeta("zzz", "", "", "")),  # no row: the stem as title
    ],
)
def test_lookup(tmp_path: Path, name: str, text: str, source: str, expected: SourceMeta) -> None:
    table = MetadataTable.load([_write(tmp_path, name, text)])
    assert table.lookup(source) == expected


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("m.csv", "title,credit\nx,y\n", "'source' column"),
        ("m.yaml", "a.jpg: just a string\n", "must be a mapping"),
        ("m.yaml", "[unclosed\n", "not valid YAML"),
        ("m.txt", "source\n", "unknown metadata format"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        MetadataTable.load([_write(tmp_path, name, text)])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="not found"):
        MetadataTable.load([tmp_path / "nope.csv"])


def test_unused_rows_are_reported(tmp_path: Path) -> None:
    table = MetadataTable.load([_write(tmp_path, "m.csv", CSV)])
    table.lookup("photos/a.jpg")
    assert table.unused() == ["b.jpg", "videos/*"]
