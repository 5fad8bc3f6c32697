"""`kiosk index report DIR -o report.html`: one self-contained static page for the curator.

Everything is inline: CSS, SVG figures, images as data: URIs; the page refers to nothing outside
itself (no scripts, fonts, links to fetch), so it opens offline and can be mailed as one file.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kiosk.gallery.report import holes as hl
from kiosk.gallery.report import sections as sec
from kiosk.gallery.report.figures import esc

if TYPE_CHECKING:
    from kiosk.gallery.query import QueryResult, ThresholdFor
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.gallery.report.reference import ReferenceSet

log = logging.getLogger(__name__)

CSS = """
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#222;
background:#fbfaf7}
h1{font-size:26px;margin:8px 0}h2{font-size:21px;border-bottom:2px solid #ddd;margin-top:32px}
h3{font-size:17px;margin:18px 0 6px}.count{background:#444;color:#fff;border-radius:10px;
padding:0 8px;font-size:13px;vertical-align:middle}
.stats{display:flex;gap:12px;flex-wrap:wrap}.stat{background:#fff;border:1px solid #ddd;
border-radius:8px;padding:8px 14px;min-width:120px}.stat b{display:block;font-size:24px}
.stat span{font-size:13px;color:#555}.thr{color:#c0392b}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;
font-size:14px}.num{text-align:right}
.grid{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;background:#fff;border:1px solid #ddd;
border-radius:6px;padding:6px;max-width:170px;font-size:13px;overflow-wrap:anywhere}
figure img{display:block;max-width:150px;max-height:170px}
.reject small{display:block;color:#777;font-size:11px}.reason{color:#a33;font-weight:600}
.sheet{display:flex;gap:8px;align-items:flex-start;margin:10px 0;padding:8px;background:#f0eee8;
border-radius:8px;overflow-x:auto}.query{border:2px solid #333}
.match.beyond{opacity:.55;border:2px dashed #c0392b}.verdict{font-size:12px}
.match.beyond .verdict{color:#c0392b;font-weight:600}
.cluster,.hole{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px;text-align:center}
.hole{border-color:#c0392b}.hole small{display:block;font-size:12px;color:#555}
.dup{display:flex;gap:6px;margin:6px 0;padding:6px;background:#f3e9e0;border-radius:6px}
.note{color:#555;font-size:14px}nav a{margin-right:12px}
"""
SECTIONS = ("summary", "rejects", "warnings", "sheets", "coverage", "holes")


@dataclass
class ReportInput:
    index: GalleryIndex
    #: the kiosk's match threshold (match.max_distance) as a raw distance, per visible profile
    threshold: ThresholdFor
    metric: str = "cosine"
    reference: ReferenceSet | None = None
    queries: list[QueryResult] = field(default_factory=list)


def render(inp: ReportInput) -> str:
    """The whole page as a string."""
    index = inp.index
    vectors = np.asarray(index.vectors())
    n = len(index)
    srcs = np.asarray([index.entry(i).source for i in range(n)]) if n else np.zeros(0)
    mirrored = np.asarray([index.entry(i).mirrored for i in range(n)], dtype=bool)
    conf = np.ones(17, np.float32)

    def neighbours(i: int) -> list[int]:  # the index's own search (a VP-tree) for large galleries
        found = index.query_vector(vectors[i], conf, 8, "cosine", hl.DUPLICATE_DISTANCE)
        return [m.entry_id for m in found if m.distance < hl.DUPLICATE_DISTANCE]

    dups = hl.near_duplicates(vectors, srcs, mirrored, neighbours=neighbours)
    origin = inp.reference.origin if inp.reference is not None else "none given"
    if inp.reference is not None:
        found, answered = hl.holes(index, inp.reference, inp.threshold, inp.metric)
    else:
        found, answered = [], []
    whole = inp.threshold(None)  # the whole body's, for the page's text
    parts = [
        sec.summary(index, whole, inp.metric, origin),
        sec.rejects(index),
        sec.warnings(index, dups),
        sec.contact_sheets(index, inp.queries, inp.threshold),
        sec.coverage(hl.coverage(index), n),
        sec.holes(found, answered, whole, origin),
    ]
    nav = "".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS)
    title = f"Gallery report: {index.path.name} ({index.index_id[:12]})"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{esc(title)}</h1><nav>{nav}</nav>{''.join(parts)}</body></html>\n")


#: Attribute values that would make a browser fetch something; the page must have none.
_FETCHING = re.compile(r"""(?:src|href|action|poster|srcset)\s*=\s*["'](?!data:|#)([^"']*)["']""",
                       re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?(?!data:)", re.IGNORECASE)


def network_references(page: str) -> list[str]:
    """Every attribute or CSS url() in the page that would be fetched (should be empty).
    The SVG namespace declaration (xmlns) is a name, not a fetch, and is not counted."""
    found = [m.group(0) for m in _FETCHING.finditer(page)]
    found += [m.group(0) for m in _CSS_URL.finditer(page)]
    found += re.findall(r"<(?:script|link|iframe|object|embed)\b[^>]*>", page, re.IGNORECASE)
    return found


def write(inp: ReportInput, out: Path) -> Path:
    """Render and write the page atomically; refuses to write a page with network references."""
    page = render(inp)
    bad = network_references(page)
    if bad:  # a bug, never the curator's fault
        raise RuntimeError(f"report would refer outside itself: {bad[:3]}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
