"""`kiosk index inspect`: the manifest and counts, contact sheets of queries, a coverage map.

Contact sheet: one row per query photo: the photo with its skeleton, then its top-k entries'
renditions with their skeletons and distances (Move Mirror's hole-finding tool).
Coverage map: every entry's pose vector projected on the first two principal components;
a density image (dark = sparse, i.e. poses the gallery lacks), with the entries as dots.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.gallery.query import QueryResult
from kiosk.gallery.reader import GalleryIndex
from kiosk.pose.types import SKELETON, Pose

log = logging.getLogger(__name__)

THUMB_H = 270


def summary(index: GalleryIndex) -> dict[str, Any]:
    """The manifest without the per-file list, with the file count and total bytes."""
    m = {k: v for k, v in index.manifest.items() if k != "files"}
    files = index.manifest.get("files", {})
    m["files"] = {"count": len(files), "bytes": sum(int(f["bytes"]) for f in files.values())}
    m["path"] = str(index.path)
    return m


def draw_skeleton(im: Any, pose: Pose, min_score: float = 0.3, width: int = 3) -> None:
    from PIL import ImageDraw

    d = ImageDraw.Draw(im)
    ok = pose.scores >= min_score
    for a, b in SKELETON:
        if ok[a] and ok[b]:
            d.line([tuple(pose.xy[a]), tuple(pose.xy[b])], fill=(0, 255, 170), width=width)
    r = width + 1
    for (x, y), good in zip(pose.xy, ok, strict=True):
        if good:
            d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 60, 60))


def _thumb(im: Any, pose: Pose | None) -> Any:
    from PIL import Image

    im = im.convert("RGB")
    if pose is not None:
        draw_skeleton(im, pose, width=max(2, im.height // 150))
    w = max(1, round(im.width * THUMB_H / im.height))
    return im.resize((w, THUMB_H), Image.Resampling.BILINEAR)


def contact_sheet(index: GalleryIndex, results: list[QueryResult], out: Path) -> Path:
    from PIL import Image, ImageDraw

    from kiosk.pose.images import open_image

    rows = []
    for r in results:
        tiles = []
        label = [Path(r.image).name + (f" ({r.error})" if r.error else "")]
        if r.rgb is not None:
            tiles.append(_thumb(Image.fromarray(r.rgb), r.pose))
        else:
            tiles.append(Image.new("RGB", (THUMB_H, THUMB_H), (60, 0, 0)))
        for m in r.matches:
            e = index.entry(m.entry_id)
            with open_image(e.rendition) as im:
                tiles.append(_thumb(im, e.keypoints))
            t = "" if e.frame_time is None else f"@{e.frame_time:.1f}s"
            label.append(f"#{m.entry_id} {Path(e.source).name}{t} d={m.distance:.3f}")
        width = sum(t.width for t in tiles) + 8 * len(tiles)
        row = Image.new("RGB", (width, THUMB_H + 22), (24, 24, 24))
        x = 0
        draw = ImageDraw.Draw(row)
        for tile, text in zip(tiles, label, strict=False):
            row.paste(tile, (x, 22))
            draw.text((x + 2, 4), text, fill=(235, 235, 235))
            x += tile.width + 8
        rows.append(row)
    if not rows:
        raise ValueError("no query images given")
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 6 for r in rows)))
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height + 6
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """(N, 2) coordinates of the vectors on their first two principal components."""
    v = np.asarray(vectors, dtype=np.float64)
    if len(v) < 2:
        return np.zeros((len(v), 2))
    c = v - v.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    return c @ vt[:2].T


def coverage(index: GalleryIndex, bins: int = 48) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(2-D points, bins x bins histogram, stats) of the gallery's poses."""
    pts = project_2d(index.vectors())
    if len(pts) == 0:
        return pts, np.zeros((bins, bins)), {"entries": 0}
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    cells = np.clip(((pts - lo) / span * bins).astype(int), 0, bins - 1)
    hist = np.zeros((bins, bins))
    np.add.at(hist, (cells[:, 1], cells[:, 0]), 1)
    occupied = int((hist > 0).sum())
    stats = {"entries": len(pts), "bins": bins * bins, "occupied_bins": occupied,
             "max_per_bin": int(hist.max())}
    return pts, hist, stats


def coverage_map(index: GalleryIndex, out: Path, size: int = 720) -> dict[str, Any]:
    from PIL import Image, ImageDraw, ImageFilter

    pts, hist, stats = coverage(index)
    dens = np.log1p(hist)
    dens = dens / dens.max() if dens.max() > 0 else dens
    rgb = np.stack([dens * 255, dens * 140, 40 + dens * 40], axis=-1).astype(np.uint8)
    im = Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST)
    im = im.filter(ImageFilter.GaussianBlur(size / 96))
    d = ImageDraw.Draw(im)
    if len(pts):
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        for x, y in (pts - lo) / span * (size - 1):
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(255, 255, 255))
    d.text((6, 6), f"{index.index_id}: {stats['entries']} entries, "
           f"{stats['occupied_bins']}/{stats['bins']} cells occupied (dark = sparse)",
           fill=(255, 255, 255))
    out.parent.mkdir(parents=True, exist_ok=True)
    im.save(out)
    return stats
