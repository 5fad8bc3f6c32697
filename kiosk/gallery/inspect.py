"""`kiosk index inspect`: the manifest and counts, contact sheets of queries, a coverage map.

Contact sheet: one row per query photo: the photo with its skeleton, then its top-k entries'
renditions with their skeletons and distances, each against the kiosk's match threshold
(Move Mirror's hole-finding tool). Coverage map: every entry's pose vector projected on the first
two principal components; a density image (dark = sparse, i.e. poses the gallery lacks), with the
entries as dots, labelled axes, a legend and the threshold drawn to scale.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.gallery.query import QueryResult, ThresholdFor
from kiosk.gallery.reader import GalleryIndex
from kiosk.pose.types import SKELETON, Pose

log = logging.getLogger(__name__)

THUMB_H = 270
TILE_W = 240
GAP = 12
BG, FG = (24, 24, 24), (235, 235, 235)
MATCH_RGB, BEYOND_RGB, THRESHOLD_RGB = (60, 200, 110), (230, 70, 60), (255, 60, 60)


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


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _verdict(distance: float, threshold: float) -> tuple[str, tuple[int, int, int]]:
    if distance <= threshold:
        return "shown on the kiosk", MATCH_RGB
    return "beyond: No good match", BEYOND_RGB


def _no_threshold(profile: object) -> float:
    return float("inf")


def contact_sheet(index: GalleryIndex, results: list[QueryResult], out: Path,
                  threshold: ThresholdFor = _no_threshold) -> Path:
    """One row per query: the photo, then its matches, each labelled with its distance and a bar
    against the kiosk's threshold for what that query shows (red tick; threshold(profile), the
    visible profile's: kiosk.gallery.query.ThresholdFor); matches beyond it are framed red and
    dimmed. Every tile is THUMB_H high and TILE_W wide, so rows line up."""
    from PIL import Image, ImageDraw

    from kiosk.pose.images import open_image

    if not results:
        raise ValueError("no query images given")
    k = max((len(r.matches) for r in results), default=0)
    whole = threshold(None)
    scale = max(2 * whole if np.isfinite(whole) else 0.0,
                max((m.distance for r in results for m in r.matches), default=0.0), 0.1)
    f_big, f_small = _font(20), _font(16)
    head = 64
    width = max((1 + k) * (TILE_W + GAP) + GAP, 760)
    legend_h = 46
    sheet = Image.new("RGB", (width, legend_h + len(results) * (THUMB_H + head + GAP)), BG)
    d = ImageDraw.Draw(sheet)
    d.text((GAP, 4), f"{index.index_id[:12]}: nearest entries per query. Red tick on each bar: the"
           f" kiosk's threshold for what the query shows ({whole:.3f} for a whole body).", fill=FG,
           font=f_small)
    d.text((GAP, 22), "Green frame: the kiosk shows it; red frame: beyond the threshold, the visitor"
           " sees \"No good match\".", fill=FG, font=f_small)
    y = legend_h
    for r in results:
        x = GAP
        tile = (_thumb(Image.fromarray(r.rgb), r.pose) if r.rgb is not None
                else Image.new("RGB", (TILE_W, THUMB_H), (90, 20, 20)))
        sheet.paste(_fit_tile(tile), (x, y + head))
        d.text((x, y + 4), _clip(d, Path(r.image).name, f_big, TILE_W), fill=FG, font=f_big)
        d.text((x, y + 30), _clip(d, r.error or "query", f_small, TILE_W), fill=(255, 170, 90)
               if r.error else (170, 170, 170), font=f_small)
        limit = threshold(r.profile)
        for m in r.matches:
            x += TILE_W + GAP
            e = index.entry(m.entry_id)
            with open_image(e.rendition) as im:
                tile = _fit_tile(_thumb(im, e.keypoints))
            verdict, colour = _verdict(m.distance, limit)
            if colour == BEYOND_RGB:
                tile = Image.blend(tile, Image.new("RGB", tile.size, BG), 0.45)
            sheet.paste(tile, (x, y + head))
            d.rectangle([x - 2, y + head - 2, x + TILE_W + 1, y + head + THUMB_H + 1], outline=colour,
                        width=3)
            d.text((x, y + 2), f"d = {m.distance:.3f}  #{m.entry_id}", fill=FG, font=f_big)
            _bar(d, x, y + 28, TILE_W, m.distance, limit, scale, colour)
            d.text((x, y + 42), _clip(d, verdict, f_small, TILE_W), fill=colour, font=f_small)
        y += THUMB_H + head + GAP
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def _fit_tile(im: Any) -> Any:
    """im on a TILE_W x THUMB_H tile (cropped or centred), so every row lines up."""
    from PIL import Image

    tile = Image.new("RGB", (TILE_W, THUMB_H), (40, 40, 40))
    x = (TILE_W - im.width) // 2
    tile.paste(im, (x, 0))
    return tile


def _clip(d: Any, text: str, font: Any, width: int) -> str:
    while text and d.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def _bar(d: Any, x: int, y: int, w: int, dist: float, thr: float, scale: float,
         colour: tuple[int, int, int]) -> None:
    d.rectangle([x, y, x + w, y + 10], fill=(60, 60, 60))
    d.rectangle([x, y, x + round(min(dist / scale, 1.0) * w), y + 10], fill=colour)
    if np.isfinite(thr):
        t = x + round(min(thr / scale, 1.0) * w)
        d.line([t, y - 3, t, y + 13], fill=THRESHOLD_RGB, width=3)


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """(N, 2) coordinates of the vectors on their first two principal components."""
    v = np.asarray(vectors, dtype=np.float64)
    if len(v) < 2:
        return np.zeros((len(v), 2))
    c = v - v.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    return c @ vt[:2].T


def _frame(pts: np.ndarray, pad: float = 0.06) -> tuple[np.ndarray, float]:
    """(lower-left corner, side) of a square around the points, equal scale on both axes, with a
    margin so that no dot sits on the edge."""
    if len(pts) == 0:
        return np.zeros(2), 1.0
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = float((hi - lo).max()) or 1.0
    side *= 1 + 2 * pad
    return (lo + hi) / 2 - side / 2, side


def coverage(index: GalleryIndex, bins: int = 48) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(2-D points (N, 2), bins x bins histogram (row 0 = lowest component 2), stats)."""
    pts = project_2d(index.vectors())
    if len(pts) == 0:
        return pts, np.zeros((bins, bins)), {"entries": 0, "bins": bins * bins, "occupied_bins": 0}
    lo, side = _frame(pts)
    cells = np.clip(((pts - lo) / side * bins).astype(int), 0, bins - 1)
    hist = np.zeros((bins, bins))
    np.add.at(hist, (cells[:, 1], cells[:, 0]), 1)
    occupied = int((hist > 0).sum())
    stats = {"entries": len(pts), "bins": bins * bins, "occupied_bins": occupied,
             "max_per_bin": int(hist.max())}
    return pts, hist, stats


def reach(pts: np.ndarray, lo: np.ndarray, side: float, threshold: float, res: int = 160) -> np.ndarray:
    """(res, res) bool, row 0 = lowest component 2: grid cells within `threshold` (plot units) of
    an entry. The projection never lengthens distances, so this over-states the real reach."""
    if len(pts) == 0 or not np.isfinite(threshold):
        return np.zeros((res, res), bool)
    steps = (np.arange(res) + 0.5) / res * side
    gx, gy = np.meshgrid(lo[0] + steps, lo[1] + steps)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    fine = np.unique(np.round((pts - lo) / side * 512), axis=0) / 512 * side + lo  # <= 512^2 points
    near = np.zeros(len(grid), bool)
    for start in range(0, len(fine), 2048):
        d = ((grid[:, None, :] - fine[None, start:start + 2048, :]) ** 2).sum(axis=2)
        near |= (d <= threshold * threshold).any(axis=1)
    return near.reshape(res, res)


def coverage_map(index: GalleryIndex, out: Path, threshold: float = float("inf"),
                 size: int = 720) -> dict[str, Any]:
    """The entries on the first two principal components of their pose vectors (equal scale),
    over a density image, with labelled axes and a legend. The kiosk's match threshold is drawn
    to scale: a red outline around the area within `threshold` of some entry (a visitor pose
    outside it gets "No good match"; inside it, probably not: the projection shortens distances)
    and a red scale bar of that length."""
    from PIL import Image, ImageDraw, ImageFilter

    pts, hist, stats = coverage(index)
    lo, side = _frame(pts)
    ml, mb, mt, legend_w = 80, 70, 50, 280
    dens = np.log1p(hist)
    dens = dens / dens.max() if dens.max() > 0 else dens
    rgb = np.stack([dens * 255, dens * 140, 40 + dens * 40], axis=-1).astype(np.uint8)
    plot = Image.fromarray(rgb[::-1]).resize((size, size), Image.Resampling.NEAREST)
    plot = plot.filter(ImageFilter.GaussianBlur(size / 96))
    within = reach(pts, lo, side, threshold)
    edge = within & ~(np.roll(within, 1, 0) & np.roll(within, -1, 0) & np.roll(within, 1, 1)
                      & np.roll(within, -1, 1))
    mask = Image.fromarray((edge[::-1] * 255).astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    plot.paste(Image.new("RGB", plot.size, THRESHOLD_RGB), (0, 0), mask)
    im = Image.new("RGB", (ml + size + legend_w, mt + size + mb), BG)
    im.paste(plot, (ml, mt))
    d = ImageDraw.Draw(im)
    f, fs = _font(18), _font(15)

    def to_px(x: float, y: float) -> tuple[float, float]:
        return ml + (x - lo[0]) / side * size, mt + size - (y - lo[1]) / side * size

    for x, y in pts:
        px, py = to_px(x, y)
        d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=(255, 255, 255))
    d.rectangle([ml, mt, ml + size, mt + size], outline=FG, width=2)
    for i in range(5):  # ticks in principal-component units
        vx, vy = lo[0] + side * i / 4, lo[1] + side * i / 4
        px, _ = to_px(vx, lo[1])
        _, py = to_px(lo[0], vy)
        d.line([px, mt + size, px, mt + size + 6], fill=FG, width=2)
        d.text((px - 20, mt + size + 8), f"{vx:+.2f}", fill=FG, font=fs)
        d.line([ml - 6, py, ml, py], fill=FG, width=2)
        d.text((8, py - 8), f"{vy:+.2f}", fill=FG, font=fs)
    d.text((ml + size // 2 - 150, mt + size + 36), "pose principal component 1", fill=FG, font=f)
    d.text((ml, 14), f"{index.index_id[:12]}: {stats['entries']} entries,"
           f" {stats.get('occupied_bins', 0)}/{stats.get('bins', 0)} cells occupied", fill=FG, font=f)
    _coverage_legend(d, ml + size + 20, mt, threshold, side, size, fs)
    out.parent.mkdir(parents=True, exist_ok=True)
    im.save(out)
    return stats


def _coverage_legend(d: Any, x: int, y: int, threshold: float, side: float, size: int, font: Any) -> None:
    d.text((x, y), "vertical axis: pose principal", fill=FG, font=font)
    d.text((x, y + 18), "component 2 (same scale)", fill=FG, font=font)
    d.ellipse([x, y + 52, x + 8, y + 60], fill=(255, 255, 255))
    d.text((x + 16, y + 48), "an entry", fill=FG, font=font)
    for j, (label, v) in enumerate((("many entries", 1.0), ("few entries", 0.3), ("none: a hole", 0.0))):
        c = (int(v * 255), int(v * 140), int(40 + v * 40))
        yy = y + 78 + 26 * j
        d.rectangle([x, yy, x + 18, yy + 18], fill=c, outline=FG)
        d.text((x + 26, yy), label, fill=FG, font=font)
    if np.isfinite(threshold):
        yy = y + 170
        bar = min(threshold / side * size, 240)
        d.line([x, yy, x + bar, yy], fill=THRESHOLD_RGB, width=4)
        d.text((x, yy + 8), f"kiosk threshold {threshold:.3f}" + (" (to scale)" if bar < 240 else ""),
               fill=THRESHOLD_RGB, font=font)
        d.rectangle([x, yy + 36, x + 18, yy + 54], outline=THRESHOLD_RGB, width=3)
        d.text((x + 26, yy + 36), "within the threshold of", fill=FG, font=font)
        d.text((x + 26, yy + 54), "an entry (outside: no match)", fill=FG, font=font)
