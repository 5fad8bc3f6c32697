"""The types and ranges of every field of manifest.json, entries.json and sources.json.

Each check returns a list of problems, one sentence each naming the file, the record and the
field (`entries.json: entry 7: crop_box ...`), so `kiosk index verify` and the kiosk's open
refuse a malformed index up front instead of failing on every frame later. index/README.md
documents the fields.
"""

from __future__ import annotations

import math
import re
from typing import Any

from kiosk.core.enums import Views
from kiosk.gallery import manifest as mf
from kiosk.match.metrics import PROFILE_METRICS

#: Crop boxes are source-frame pixels; beyond this a number is corrupt, not a photo.
MAX_COORD = 1e6
MAX_DISPLAY = 16384
#: Problems reported per file before "and N more".
MAX_REPORTED = 5

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool)) and math.isfinite(v)


def _capped(name: str, found: list[str]) -> list[str]:
    if len(found) <= MAX_REPORTED:
        return found
    return [*found[:MAX_REPORTED], f"{name}: and {len(found) - MAX_REPORTED} more problem(s)"]


def check_manifest(manifest: Any) -> list[str]:
    """Types of the manifest fields the kiosk relies on."""
    m = mf.MANIFEST
    if not isinstance(manifest, dict):
        return [f"{m}: expected a JSON object, got {type(manifest).__name__}"]
    out: list[str] = []
    if not isinstance(manifest.get("index_id"), str):
        out.append(f"{m}: index_id must be a string")
    files = manifest.get("files")
    if not isinstance(files, dict):
        out.append(f"{m}: files must be an object of {{path: {{sha256, bytes}}}}")
    else:
        for rel, info in files.items():
            if not (isinstance(info, dict) and isinstance(info.get("sha256"), str)
                    and _SHA256.match(info["sha256"]) and _is_int(info.get("bytes"))
                    and info["bytes"] >= 0):
                out.append(f"{m}: files[{rel!r}] must be {{\"sha256\": 64 hex digits, \"bytes\": "
                           "a whole number >= 0}")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(_is_int(counts.get(k)) for k in ("entries",
                                                                                 "sources_indexed")):
        out.append(f"{m}: counts must hold whole numbers entries and sources_indexed")
    size = manifest.get("display_size")
    if not (isinstance(size, list) and len(size) == 2
            and all(_is_int(v) and 0 < v <= MAX_DISPLAY for v in size)):
        out.append(f"{m}: display_size must be [width, height] in 1..{MAX_DISPLAY}, got {size!r}")
    vector = manifest.get("vector", {})
    if not isinstance(vector, dict) or not isinstance(vector.get("tree"), str | None):
        out.append(f"{m}: vector must be an object whose tree is a file name or null")
    model = manifest.get("model")
    if not isinstance(model, dict):
        out.append(f"{m}: model must be an object")
    elif model.get("views", Views.PHOTO) not in Views.values():
        out.append(f"{m}: model.views must be one of {', '.join(Views.values())}, got {model['views']!r}")
    out += check_calibration(manifest.get("calibration"))
    return _capped(m, out)


def _is_table(t: Any) -> bool:
    """A calibration table: 101 finite numbers (kiosk.match.calibration.quantile_table)."""
    return isinstance(t, list) and len(t) == 101 and all(_is_number(v) for v in t)


def check_calibration(calibration: Any) -> list[str]:
    """The manifest's calibration block (absent in format 1: calibrated when opened)."""
    m = mf.MANIFEST
    if calibration is None:
        return []
    fix = "rebuild the index (kiosk index build)"
    tables = calibration.get("tables") if isinstance(calibration, dict) else None
    if not isinstance(tables, dict):
        return [f"{m}: calibration.tables must be an object; {fix}"]
    out = []
    for metric, t in tables.items():
        if metric in PROFILE_METRICS:
            bad = not isinstance(t, dict) or not all(_is_table(v) for v in t.values())
        else:
            bad = t is not None and not _is_table(t)
        if bad:
            out.append(f"{m}: calibration.tables.{metric} must be 101 finite numbers"
                       f"{' a profile' if metric in PROFILE_METRICS else ''}; {fix}")
    distances = calibration.get("distances", {})
    if not (isinstance(distances, dict) and all(isinstance(v, str) for v in distances.values())):
        out.append(f"{m}: calibration.distances must map metrics to version strings; {fix}")
    return out


def json_list(doc: Any, key: str, name: str) -> tuple[list[Any], list[str]]:
    """doc[key] when doc is {key: [...]}; else ([], [problem])."""
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        return [], [f"{name}: expected a JSON object {{\"{key}\": [...]}}"]
    return doc[key], []


def _check_source(i: int, s: Any) -> str | None:
    where = f"{mf.SOURCES}: source {i}"
    if not isinstance(s, dict):
        return f"{where}: expected an object, got {type(s).__name__}"
    if not isinstance(s.get("name"), str):
        return f"{where}: name must be a string"
    for key in ("title", "credit", "licence", "link", "kind"):
        if not isinstance(s.get(key, ""), str):
            return f"{where}: {key} must be a string, got {s[key]!r}"
    return None


def check_sources(sources: list[Any]) -> list[str]:
    found = [p for i, s in enumerate(sources) if (p := _check_source(i, s))]
    return _capped(mf.SOURCES, found)


def _check_crop_box(box: Any) -> str | None:
    if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
        return f"crop_box must be [x0, y0, x1, y1] finite numbers, got {box!r}"
    x0, y0, x1, y1 = box
    if not (x0 < x1 and y0 < y1):
        return f"crop_box {box!r} is empty or inverted (needs x0 < x1 and y0 < y1)"
    if max(abs(v) for v in box) > MAX_COORD:
        return f"crop_box {box!r} lies beyond {MAX_COORD:g} pixels"
    return None


def _check_entry(i: int, e: Any, n_sources: int, files: dict[str, Any]) -> str | None:
    where = f"{mf.ENTRIES}: entry {i}"
    if not isinstance(e, dict):
        return f"{where}: expected an object, got {type(e).__name__}"
    problem = None
    if e.get("id") != i or not _is_int(e.get("id")):
        problem = f"id {e.get('id')!r} (ids are the positions 0..N-1)"
    elif not (_is_int(e.get("source")) and 0 <= e["source"] < n_sources):
        problem = f"source {e.get('source')!r} is not a position in {mf.SOURCES} (0..{n_sources - 1})"
    elif not (e.get("frame_time") is None or (_is_number(e["frame_time"]) and e["frame_time"] >= 0)):
        problem = f"frame_time must be null or seconds >= 0, got {e['frame_time']!r}"
    elif (box := _check_crop_box(e.get("crop_box"))) is not None:
        problem = box
    elif not isinstance(e.get("mirrored"), bool):
        problem = f"mirrored must be true or false, got {e.get('mirrored')!r}"
    elif "pose_score" in e and not (_is_number(e["pose_score"]) and 0 <= e["pose_score"] <= 1):
        problem = f"pose_score must be a number within [0, 1] (as Pose.score), got {e['pose_score']!r}"
    elif not isinstance(e.get("rendition"), str) or e["rendition"] not in files:
        problem = f"rendition {e.get('rendition')!r} is not a file listed in the manifest"
    return f"{where}: {problem}" if problem else None


def check_entries(entries: list[Any], n_sources: int, files: dict[str, Any]) -> list[str]:
    found = [p for i, e in enumerate(entries) if (p := _check_entry(i, e, n_sources, files))]
    return _capped(mf.ENTRIES, found)
