"""The report's sections as HTML fragments (each a <section id=...> with data-count attributes
the browser test reads). Inputs are the opened index and the computed findings."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.gallery import quality as qa
from kiosk.gallery.report.figures import distance_bar, esc, image_uri, placeholder_svg, stick_svg

if TYPE_CHECKING:
    from kiosk.gallery.query import QueryResult, ThresholdFor
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.gallery.report.holes import Cluster, Hole

log = logging.getLogger(__name__)

#: Items shown per warning list (the count says how many there are in all).
MAX_ITEMS = 48


@dataclass(frozen=True)
class EntryQuality:
    entry: int
    source: str
    upscale: float
    person_px: float  # the person's height in source pixels


def _section(sid: str, title: str, body: str, count: int, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (f'<section id="{sid}" data-count="{count}"><h2>{esc(title)} '
            f'<span class="count">{count}</span></h2>{note_html}{body}</section>')


def reason_of(text: str) -> str:
    """'dir/x.png: corrupt or truncated image (detail)' -> 'corrupt or truncated image'."""
    text = text.split(": ", 1)[1] if ": " in text else text
    return re.sub(r"\s*\(.*$", "", text).strip() or text


def rejects_by_reason(index: GalleryIndex) -> Counter[str]:
    counts: Counter[str] = Counter(index.manifest.get("counts", {}).get("discarded", {}))
    for r in _rejects(index):
        if not r["reason"].startswith("no entry kept"):
            counts[reason_of(r["reason"])] += 1
    return counts


def _rejects(index: GalleryIndex) -> list[dict[str, Any]]:
    import json

    from kiosk.gallery import manifest as mf

    return list(json.loads((index.path / mf.SOURCES).read_text()).get("rejects", []))


def summary(index: GalleryIndex, threshold: float, metric: str, reference_origin: str) -> str:
    c = index.manifest.get("counts", {})
    reasons = rejects_by_reason(index)
    rows = "".join(f"<tr><td>{esc(r)}</td><td class=num>{n}</td></tr>" for r, n in reasons.most_common())
    stats = [("sources indexed", c.get("sources_read", 0)),
             ("files unreadable or skipped", c.get("files_skipped", 0)),
             ("frames seen", c.get("frames_seen", 0)),
             ("entries", c.get("entries", len(index))),
             ("of them mirrored", c.get("mirrored_entries", 0))]
    dl = "".join(f'<div class="stat" data-stat="{esc(k)}"><b>{v}</b><span>{esc(k)}</span></div>'
                 for k, v in stats)
    body = (f'<div class="stats">{dl}</div>'
            f"<p>Index <code>{esc(index.index_id)}</code>, model "
            f"<code>{esc((index.manifest.get('model') or {}).get('name', '?'))}</code>, renditions "
            f"{index.display_size[0]}x{index.display_size[1]}. The kiosk shows a match when its "
            f"{esc(metric)} distance is at most <b class=thr>{threshold:.3f}</b> (match.max_distance); "
            f"beyond it the visitor sees “No good match”.</p>"
            f'<h3>Rejects by reason</h3><table class="reasons">{rows or "<tr><td>none</td></tr>"}</table>'
            f'<p class="note">Reference visitor poses: {esc(reference_origin)}.</p>')
    return _section("summary", "Summary", body, int(c.get("entries", len(index))))


def rejects(index: GalleryIndex) -> str:
    items = []
    for r in _rejects(index):
        thumb = r.get("thumbnail")
        pic = (f'<img class="thumb" alt="" src="{image_uri(index.path / thumb, 140)}">'
               if thumb and (index.path / thumb).is_file() else placeholder_svg("no picture"))
        items.append(f'<figure class="reject">{pic}<figcaption><b>{esc(r["file"])}</b><br>'
                     f'<span class="reason">{esc(reason_of(r["reason"]))}</span>'
                     f'<small>{esc(r["reason"])}</small></figcaption></figure>')
    body = f'<div class="grid">{"".join(items)}</div>' if items else "<p>No source was rejected.</p>"
    note = "Sources that gave no entry: unreadable files, and files whose every person was filtered out."
    return _section("rejects", "Rejected sources", body, len(items), note)


def entry_quality(index: GalleryIndex) -> list[EntryQuality]:
    out = []
    w, h = index.display_size
    for i in range(len(index)):
        e = index.entry(i)
        if e.mirrored:
            continue
        f = qa.upscale_factor(e.crop_box, (w, h))
        y0, y1 = e.crop_box[1], e.crop_box[3]
        kp = e.keypoints
        ok = kp.scores >= 0.2
        ys = kp.xy[ok, 1] if ok.sum() >= 2 else kp.xy[:, 1]
        px = float(ys.max() - ys.min()) * (y1 - y0) / h
        out.append(EntryQuality(i, e.source, f, px))
    return out


def _entry_tile(index: GalleryIndex, eid: int, text: str) -> str:
    return (f'<figure class="entry" data-entry="{eid}"><img alt="" '
            f'src="{image_uri(index.rendition_path(eid), 150)}"><figcaption>#{eid} '
            f"{esc(Path(index.entry(eid).source).name)}<br>{esc(text)}</figcaption></figure>")


def _warning_list(index: GalleryIndex, kind: str, title: str, tiles: list[tuple[int, str]]) -> str:
    shown = "".join(_entry_tile(index, e, t) for e, t in tiles[:MAX_ITEMS])
    more = f"<p>… and {len(tiles) - MAX_ITEMS} more.</p>" if len(tiles) > MAX_ITEMS else ""
    return (f'<div class="warn" data-kind="{kind}" data-count="{len(tiles)}"><h3>{esc(title)} '
            f'<span class="count">{len(tiles)}</span></h3><div class="grid">{shown}</div>{more}</div>')


def warnings(index: GalleryIndex, dup_clusters: list[list[int]]) -> str:
    q = entry_quality(index)
    up = sorted((x for x in q if x.upscale > qa.UPSCALE_WARN), key=lambda x: -x.upscale)
    small = sorted((x for x in q if x.person_px < qa.SMALL_PERSON_PX), key=lambda x: x.person_px)
    parts = [
        _warning_list(index, "upscale", f"Upscaled more than {qa.UPSCALE_WARN:g}x (blurry on screen)",
                      [(x.entry, f"{x.upscale:.1f}x upscaled") for x in up]),
        _warning_list(index, "small", f"Small person (under {qa.SMALL_PERSON_PX:g} source pixels tall)",
                      [(x.entry, f"person {x.person_px:.0f} px tall") for x in small]),
    ]
    rows = []
    for s in index.source_records():
        if s.get("entries", 0) and (missing := qa.missing_caption(s)):
            rows.append(f"<tr><td>{esc(s['name'])}</td><td>{esc(', '.join(missing))}</td>"
                        f"<td>{esc(s.get('title', ''))}</td><td>{esc(s.get('credit', ''))}</td>"
                        f"<td>{esc(s.get('licence', ''))}</td></tr>")
    parts.append(f'<div class="warn" data-kind="caption" data-count="{len(rows)}"><h3>Missing title, '
                 f'credit or licence <span class="count">{len(rows)}</span></h3>'
                 + (f"<table><tr><th>source</th><th>missing</th><th>title</th><th>credit</th>"
                    f"<th>licence</th></tr>{''.join(rows[:MAX_ITEMS * 4])}</table>" if rows else "")
                 + "</div>")
    dups = "".join(f'<div class="dup">{"".join(_entry_tile(index, e, "") for e in g[:8])}</div>'
                   for g in dup_clusters[:MAX_ITEMS // 4])
    parts.append(f'<div class="warn" data-kind="duplicates" data-count="{len(dup_clusters)}"><h3>'
                 f'Near-duplicate clusters (different sources, nearly the same pose) '
                 f'<span class="count">{len(dup_clusters)}</span></h3>{dups}</div>')
    total = len(up) + len(small) + len(rows) + len(dup_clusters)
    return _section("warnings", "Quality warnings", "".join(parts), total)


def contact_sheets(index: GalleryIndex, results: list[QueryResult], threshold: ThresholdFor) -> str:
    """The query photos and their nearest entries, each against the kiosk's threshold for what
    the query shows (threshold(profile): a partial body's distances have their own scale)."""
    rows = []
    whole = threshold(None)
    scale = max(2 * whole, max((m.distance for r in results for m in r.matches), default=0.0))
    for r in results:
        if r.rgb is not None:
            from kiosk.gallery.report.figures import rgb_uri

            head = f'<img alt="" src="{rgb_uri(r.rgb, 180)}">'
        else:
            head = placeholder_svg("unreadable", 150)
        cells = [f'<figure class="query">{head}<figcaption><b>{esc(Path(r.image).name)}</b>'
                 f'{"<br>" + esc(r.error) if r.error else ""}</figcaption></figure>']
        limit = threshold(r.profile)
        for m in r.matches:
            beyond = m.distance > limit
            verdict = "No good match on the kiosk" if beyond else "shown on the kiosk"
            cells.append(
                f'<figure class="match{" beyond" if beyond else ""}" data-distance="{m.distance:.4f}"'
                f' data-source="{esc(index.entry(m.entry_id).source)}">'
                f'<img alt="" src="{image_uri(index.rendition_path(m.entry_id), 150)}"><figcaption>'
                f'#{m.entry_id} {esc(Path(index.entry(m.entry_id).source).name)}<br>'
                f'd = <b>{m.distance:.3f}</b> {distance_bar(m.distance, limit, scale, 140)}'
                f'<br><span class="verdict">{verdict}</span></figcaption></figure>')
        rows.append(f'<div class="sheet">{"".join(cells)}</div>')
    note = (f"Nearest entries for each query photo; the red tick on each bar is the kiosk's threshold "
            f"{whole:.3f} for a whole body, or the one of what the query shows (a partial body is "
            f"measured on its own scale). Greyed matches are beyond it.")
    body = "".join(rows) or "<p>No query photos given (kiosk index report DIR --query IMAGE ...).</p>"
    return _section("sheets", "Contact sheets", body, len(results), note)


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def coverage(clusters: list[Cluster], total: int) -> str:
    figs = "".join(f'<div class="cluster" data-size="{c.count}">'
                   + stick_svg(c.medoid, 110, f"{_entries(c.count)} ({100 * c.count / max(total, 1):.0f}%)")
                   + "</div>" for c in clusters)
    note = ("The archive's poses grouped into clusters (k-means on the normalised pose vectors); each "
            "figure is the cluster's most typical entry, left limbs green, right limbs orange.")
    return _section("coverage", "Coverage", f'<div class="grid">{figs}</div>', len(clusters), note)


def holes(found: list[Hole], answered: list[Hole], threshold: float, origin: str) -> str:
    def fig(h: Hole) -> str:
        d = "no entries" if not np.isfinite(h.distance) else f"nearest d = {h.distance:.2f}"
        return (f'<div class="hole" data-distance="{h.distance:.4f}">{stick_svg(h.pose, 110, d)}'
                f"<small>{h.count} reference poses; {100 * h.share_beyond:.0f}% unanswered</small></div>")

    body = (f'<div class="grid">{"".join(fig(h) for h in found)}</div>' if found
            else "<p>Every common visitor pose has an entry within the threshold.</p>")
    body += (f'<p class="note">{len(answered)} other common poses are answered within {threshold:.3f}.'
             f" Reference poses: {esc(origin)}.</p>")
    note = ("Common visitor poses (clusters of the reference poses) whose nearest archive entry is "
            "beyond the kiosk's threshold: what to shoot or license next.")
    return _section("holes", "Holes", body, len(found), note)
