"""Sidecar metadata per source (title, credit, licence, link) from a CSV or YAML file.

CSV: a header row with `source` and any of `title,credit,licence,link` (`license` is accepted).
YAML: either a mapping ``{source: {title: ..., credit: ...}}`` or a list of mappings with a
``source`` key. A `source` value is matched against the source's index name
(``photos/a.jpg``), then against its file name (``a.jpg``), then as a glob pattern
(``photos/*.jpg``, ``*``); the first exact match wins, else the first matching pattern in file
order. Sources without a row get their file stem as title and empty credit/licence/link.
"""

from __future__ import annotations

import csv
import fnmatch
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kiosk.core.safefile import FileRefused, read_bytes
from kiosk.core.safeyaml import YamlRefused, decode_utf8, parse_yaml

log = logging.getLogger(__name__)

FIELDS = ("title", "credit", "licence", "link")


class MetadataError(Exception):
    """The metadata file is unreadable or malformed; the message names file and row."""


@dataclass(frozen=True)
class SourceMeta:
    title: str = ""
    credit: str = ""
    licence: str = ""
    link: str = ""

    def to_dict(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in FIELDS}


def _row(d: dict[str, Any], where: str) -> tuple[str, SourceMeta]:
    d = {str(k).strip().lower(): v for k, v in d.items() if k is not None}
    if "license" in d and "licence" not in d:
        d["licence"] = d.pop("license")
    src = str(d.get("source") or "").strip()
    if not src:
        raise MetadataError(f"{where}: missing the 'source' column/key")
    unknown = set(d) - {"source", *FIELDS}
    if unknown:
        log.warning("%s: ignoring unknown field(s) %s", where, ", ".join(sorted(unknown)))
    values = {f: "" if d.get(f) is None else str(d.get(f)).strip() for f in FIELDS}
    return src, SourceMeta(**values)


class MetadataTable:
    """Lookup of `SourceMeta` by source name."""

    def __init__(self, rows: list[tuple[str, SourceMeta]] | None = None) -> None:
        self.rows = rows or []
        self._exact = {}
        for key, meta in self.rows:
            self._exact.setdefault(key, meta)
        self.used: set[str] = set()

    @classmethod
    def load(cls, paths: list[Path] | tuple[Path, ...] | None) -> MetadataTable:
        rows: list[tuple[str, SourceMeta]] = []
        for p in paths or []:
            rows.extend(_load_file(Path(p)))
        return cls(rows)

    def lookup(self, name: str) -> SourceMeta:
        base = PurePosixPath(name).name
        for key in (name, base):
            if key in self._exact:
                self.used.add(key)
                return self._fill(self._exact[key], name)
        for key, meta in self.rows:
            if fnmatch.fnmatchcase(name, key) or fnmatch.fnmatchcase(base, key):
                self.used.add(key)
                return self._fill(meta, name)
        return self._fill(SourceMeta(), name)

    @staticmethod
    def _fill(meta: SourceMeta, name: str) -> SourceMeta:
        if meta.title:
            return meta
        return SourceMeta(PurePosixPath(name).stem, meta.credit, meta.licence, meta.link)

    def unused(self) -> list[str]:
        """Rows that matched no source (probably typos)."""
        return [k for k, _ in self.rows if k not in self.used]


def _load_file(path: Path) -> list[tuple[str, SourceMeta]]:
    suffix = path.suffix.lower()
    try:
        text = decode_utf8(read_bytes(path), str(path))
        data = parse_yaml(text, str(path)) if suffix in (".yaml", ".yml") else None
    except (YamlRefused, FileRefused) as e:
        raise MetadataError(str(e)) from None
    except FileNotFoundError:
        raise MetadataError(f"{path}: metadata file not found") from None
    except OSError as e:
        raise MetadataError(f"{path}: cannot read ({e.strerror or e})") from None
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "source" not in [f.strip().lower() for f in reader.fieldnames]:
            raise MetadataError(f"{path}: the CSV header must have a 'source' column")
        return [_row(r, f"{path}:{i}") for i, r in enumerate(reader, start=2)]
    if suffix in (".yaml", ".yml"):
        if data is None:
            return []
        if isinstance(data, dict):
            out = []
            for k, v in data.items():
                if not isinstance(v, dict):
                    raise MetadataError(f"{path}: value of {k!r} must be a mapping of fields")
                out.append(_row({**v, "source": k}, f"{path}:{k}"))
            return out
        if isinstance(data, list):
            out = []
            for i, v in enumerate(data):
                if not isinstance(v, dict):
                    raise MetadataError(f"{path}: item {i} must be a mapping with a 'source' key")
                out.append(_row(v, f"{path}: item {i}"))
            return out
        raise MetadataError(f"{path}: expected a mapping or a list at the top level")
    raise MetadataError(f"{path}: unknown metadata format {suffix!r} (use .csv, .yaml or .yml)")
