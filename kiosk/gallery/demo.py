"""The demo index: other people answering the visitor, built once and reused.

Every suitable person (`every_person`) in the PoseNet demo photos and in the mirror's COCO slice
(demo_coco.py), each also mirrored; the squats recording the demo replays as its camera is fetched
but never indexed, so every match is someone else. Captions come from the sources' metadata.

Assets come from the asset mirror (KIOSK_ASSET_MIRROR, e.g. ../shared) or, without one, from
their upstream URLs; either way each file must match the sha256 pinned in demo_assets.yaml.
They are gathered under <cache>/demo-assets/, and the index is built (atomically) into
<cache>/demo-index/ unless a destination is given. A later call returns the existing index if it
verifies and was built from exactly these assets, so the demo starts in seconds.

Caveat on the pins: the PoseNet demo photos are no longer in tfjs-models' default branch; the
commits in demo_assets.yaml are commits that still have posenet/demos/images, not proven to
be the *last* such commit. The sha256 pins are those of the mirrored files.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from kiosk.core.checksum import sha256_file
from kiosk.core.enums import Views
from kiosk.core.safeyaml import load_yaml
from kiosk.gallery.cache import atomic_write

log = logging.getLogger(__name__)

ASSETS_FILE = Path(__file__).with_name("demo_assets.yaml")
#: Demo build settings: every person of every photo, mirrored entries double the small gallery.
DEMO_FPS = 5.0
#: Bump when the demo's recipe changes (sources, options): an index of another recipe is rebuilt.
DEMO_RECIPE = 2


class DemoAssetError(Exception):
    """A demo asset is missing, unreachable or does not match its pinned sha256."""


def load_asset_list(path: Path = ASSETS_FILE) -> dict[str, Any]:
    return load_yaml(path)


def _fetch(asset: dict[str, Any], dest: Path, mirror: Path | None) -> Path:
    target = dest / Path(asset["path"]).name
    want = asset["sha256"]
    if target.is_file() and sha256_file(target) == want:
        return target
    if mirror is not None and (mirror / asset["path"]).is_file():
        src = mirror / asset["path"]
        data = src.read_bytes()
        origin = str(src)
    else:
        try:
            with urllib.request.urlopen(asset["url"], timeout=60) as r:
                data = r.read()
        except OSError as e:
            raise DemoAssetError(
                f"{asset['url']}: download failed ({e}); set KIOSK_ASSET_MIRROR to a folder"
                f" holding {asset['path']}"
            ) from None
        origin = asset["url"]
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise DemoAssetError(f"{origin}: sha256 {got} does not match the pinned {want}")
    atomic_write(target, data)
    return target


def _default_mirror() -> Path | None:
    from kiosk.core.paths import CHECKOUT, asset_mirror

    # The README's convention: ../shared beside the checkout is the mirror when present.
    beside = CHECKOUT.parent / "shared"
    return asset_mirror() or (beside if (beside / "README.md").is_file() else None)


def fetch_demo_assets(dest: Path, mirror: Path | None = None) -> tuple[list[Path], Path]:
    """(gallery files, metadata YAML) under dest, copied from the mirror or downloaded. The
    replayed recording is fetched too (dest/<its name>) but is not one of the gallery files."""
    from kiosk.gallery.demo_coco import CocoAssetError, fetch_coco

    mirror = mirror if mirror is not None else _default_mirror()
    spec = load_asset_list()
    gallery, meta = [], {}
    for a in spec["assets"]:
        f = _fetch(a, dest, mirror)
        if a["path"] == spec.get("replay"):
            continue
        gallery.append(f)
        meta[f.name] = {"title": f.stem.replace("_", " ").capitalize(), "credit": spec["credit"],
                        "licence": spec["licence"], "link": a["link"]}
    if spec.get("coco"):
        try:
            coco_files, coco_meta = fetch_coco(spec["coco"], mirror, dest / "coco")
        except CocoAssetError as e:
            raise DemoAssetError(str(e)) from None
        gallery += coco_files
        meta.update(coco_meta)
    meta_path = dest / "metadata.yaml"
    atomic_write(meta_path, yaml.safe_dump(meta, sort_keys=True).encode())
    return gallery, meta_path


def _recipe(files: list[Path], views: Views) -> str:
    """What the demo index is built from: the recipe version, how the builder sees a photo's
    people (the views and their version) and every gallery file's sha256."""
    from kiosk.pose.views import VIEWS_VERSION

    blob = json.dumps([DEMO_RECIPE, str(views), VIEWS_VERSION,
                       sorted(sha256_file(f) for f in files)])
    return hashlib.sha256(blob.encode()).hexdigest()


def _is_current(index_dir: Path, recipe: str) -> bool:
    from kiosk.gallery.reader import GalleryIndex, IndexLoadError
    from kiosk.gallery.verify import problems

    if not (index_dir / "manifest.json").is_file() or problems(index_dir, deep=True):
        return False
    try:  # checksums can pass while the format is stale (e.g. a VP-tree file version change)
        GalleryIndex.open(index_dir)
    except IndexLoadError as exc:
        log.info("demo index %s no longer opens (%s); rebuilding", index_dir, exc)
        return False
    stamp = index_dir.parent / f".{index_dir.name}.recipe"
    built = json.loads(stamp.read_text()) if stamp.is_file() else {}
    manifest = json.loads((index_dir / "manifest.json").read_text())
    return built == {"recipe": recipe, "index_id": manifest["index_id"]}


def ensure_demo_index(
    dest: Path | None = None,
    *,
    models_dir: Path | None = None,
    model: str | None = None,
    progress: bool = False,
) -> Path:
    """The demo index directory, built on first use (reused while it verifies)."""
    from kiosk.core.paths import cache_dir
    from kiosk.gallery.builder import BuildOptions, build, default_cache_dir

    dest = Path(dest) if dest is not None else cache_dir() / "demo-index"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two demo starts at once build once
        assets_dir = cache_dir() / "demo-assets"
        files, meta = fetch_demo_assets(assets_dir)  # quick when already there
        views = BuildOptions().views
        recipe = _recipe(files, views)
        if _is_current(dest, recipe):
            log.info("demo index %s is up to date", dest)
            return dest
        if dest.exists() and not (dest / "manifest.json").is_file():
            shutil.rmtree(dest)  # a stale, incomplete demo dir of our own
        options = BuildOptions(
            fps=DEMO_FPS,
            model=model,
            models_dir=models_dir,
            mirror=True,
            every_person=True,
            metadata=(meta,),
            cache_dir=default_cache_dir(),
            views=views,
        )
        summary = build([str(f) for f in files], dest, options, progress=progress)
        log.info("demo index built:\n%s", summary.format())
        atomic_write(dest.parent / f".{dest.name}.recipe",
                     json.dumps({"recipe": recipe, "index_id": summary.index_id}).encode())
    return dest
