"""What makes an entry look bad on a big screen: the one owner of the curator's warning limits.

Used by the builder's summary (`kiosk index build`) and the curator report (`kiosk index report`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

#: A rendition blown up more than this from its source pixels looks blurry on the screen.
UPSCALE_WARN = 2.0
#: A person shorter than this many source pixels is a small person (a blurry, noisy rendition).
SMALL_PERSON_PX = 200.0
#: Discard reason of `--max-upscale` (the builder's summary counts it with the filters' reasons).
UPSCALED_TOO_MUCH = "rendition upscaled too much"
#: The caption fields a shown photo should carry.
CAPTION_FIELDS = ("title", "credit", "licence")
#: Rejected-source thumbnails stored in the index (rejects/NNNN.jpg), longest side in pixels.
THUMB_PX = 160
REJECTS_DIR = "rejects"


def upscale_factor(crop_box: Sequence[float], display_size: Sequence[int]) -> float:
    """Display pixels per source pixel of a rendition cut from crop_box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (float(v) for v in crop_box)
    return max(display_size[0] / max(x1 - x0, 1e-9), display_size[1] / max(y1 - y0, 1e-9))


def missing_caption(source: Mapping[str, Any]) -> list[str]:
    """Caption fields a source record (sources.json) lacks; a title that is only the file's stem
    (the builder's default) counts as missing."""
    out = [f for f in CAPTION_FIELDS if not str(source.get(f) or "").strip()]
    stem = PurePosixPath(str(source.get("name", ""))).stem
    if "title" not in out and str(source.get("title", "")).strip() == stem:
        out.insert(0, "title")
    return out


def thumbnail(path: Path, kind: str) -> bytes | None:
    """A small JPEG of an image or a video's first frame; None when the file does not decode."""
    from PIL import Image

    from kiosk.gallery.sources import iter_video_frames, load_image

    try:
        if kind == "video":
            first = next(iter_video_frames(path, None), None)
            rgb = None if first is None else first[1]
        else:
            rgb = load_image(path)
    except Exception as e:  # a video decoder error: no thumbnail, the reason is reported anyway
        log.debug("no thumbnail for %s: %s", path, e)
        return None
    if rgb is None:
        return None
    im = Image.fromarray(rgb)
    im.thumbnail((THUMB_PX, THUMB_PX))
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=80)
    return buf.getvalue()


def reject_record(root: Path, n: int, name: str, path: Path, kind: str, reason: str) -> dict[str, Any]:
    """A rejected source's record for sources.json ("rejects"), with a small thumbnail written to
    root/rejects/NNNNN.jpg when the file decodes."""
    thumb = thumbnail(path, kind)
    rel = None
    if thumb is not None:
        rel = f"{REJECTS_DIR}/{n:05d}.jpg"
        (root / REJECTS_DIR).mkdir(exist_ok=True)
        (root / rel).write_bytes(thumb)
    return {"file": name, "reason": reason, "thumbnail": rel}
