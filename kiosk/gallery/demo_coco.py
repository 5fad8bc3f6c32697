"""The COCO part of the demo gallery: the annotated images of the mirror's COCO slice, with
captions from the annotation file (Flickr address, licence, date taken).

The slice is mirror-only (its annotation file has no upstream address): without it the demo is
built from the PoseNet photos alone, with one log line saying so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import urllib.request
from pathlib import Path
from typing import Any

from kiosk.core.checksum import sha256_file
from kiosk.gallery.cache import atomic_write

log = logging.getLogger(__name__)

CREDIT = "Flickr photo, COCO 2017 (cocodataset.org)"
_CC = re.compile(r"creativecommons\.org/licenses/([a-z-]+)/([\d.]+)")


class CocoAssetError(Exception):
    """The COCO slice does not match its pins."""


def licence_label(lic: dict[str, Any]) -> str:
    """'http://creativecommons.org/licenses/by-nc-sa/2.0/' -> 'CC BY-NC-SA 2.0'; else the name."""
    m = _CC.search(str(lic.get("url", "")))
    return f"CC {m.group(1).upper()} {m.group(2)}" if m else str(lic.get("name", "")).strip()


def caption(image: dict[str, Any], licences: dict[int, dict[str, Any]]) -> dict[str, str]:
    taken = str(image.get("date_captured", ""))
    try:
        when = dt.datetime.strptime(taken[:10], "%Y-%m-%d").strftime("%-d %B %Y")
        title = f"Photo taken {when}"
    except ValueError:
        title = "Flickr photo"
    return {"title": title, "credit": CREDIT,
            "licence": licence_label(licences.get(int(image.get("license", 0)), {})),
            "link": str(image.get("flickr_url") or image.get("coco_url") or "")}


def images_digest(lines: list[tuple[str, str]]) -> str:
    return hashlib.sha256("".join(f"{n} {h}\n" for n, h in sorted(lines)).encode()).hexdigest()


def _image(mirror_dir: Path, image: dict[str, Any], dest: Path) -> Path:
    target = dest / image["file_name"]
    if not target.is_file():
        src = mirror_dir / image["file_name"]
        if src.is_file():
            atomic_write(target, src.read_bytes())
        else:
            with urllib.request.urlopen(image["coco_url"], timeout=60) as r:
                atomic_write(target, r.read())
    return target


def fetch_coco(spec: dict[str, Any], mirror: Path | None, dest: Path) -> tuple[list[Path], dict[str, Any]]:
    """(image files, metadata rows by file name) of the slice, under dest; ([], {}) without one."""
    if mirror is None or not (mirror / spec["annotations"]).is_file():
        log.info("no COCO slice in the asset mirror (%s): the demo uses the PoseNet photos only",
                 mirror)
        return [], {}
    ann = mirror / spec["annotations"]
    if sha256_file(ann) != spec["sha256"]:
        raise CocoAssetError(f"{ann}: sha256 is not the pinned {spec['sha256']}")
    data = json.loads(ann.read_text())
    licences = {int(lic["id"]): lic for lic in data.get("licenses", [])}
    for _attempt in (1, 2):  # a damaged copy under dest is fetched again once
        dest.mkdir(parents=True, exist_ok=True)
        try:
            files = [_image(mirror / spec["images"], im, dest) for im in data["images"]]
        except OSError as e:
            raise CocoAssetError(f"COCO image missing from {mirror / spec['images']} and its"
                                 f" download failed ({e})") from None
        got = images_digest([(f.name, sha256_file(f)) for f in files])
        if got == spec["images_sha256"]:
            return files, {im["file_name"]: caption(im, licences) for im in data["images"]}
        for f in files:
            f.unlink()
    raise CocoAssetError(f"{mirror / spec['images']}: the image set's digest {got} is not the"
                         f" pinned {spec['images_sha256']}")
