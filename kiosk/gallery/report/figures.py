"""Inline pictures for the report: SVG stick figures and distance bars, images as data: URIs.

Nothing here refers to anything outside the returned string (no URLs, no files).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.pose.types import SKELETON

THUMB_PX = 220
#: Left-side limbs drawn in this colour, right-side in the other (mirrors read at a glance).
LEFT_RGB, RIGHT_RGB, MID_RGB = "#2f9e6e", "#d9643a", "#5b6b7a"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def image_uri(path: Path, max_px: int = THUMB_PX, pose_xy: np.ndarray | None = None,
              ok: np.ndarray | None = None) -> str:
    """A JPEG thumbnail (longest side max_px) of an image file, optionally with a skeleton drawn
    from pose_xy (17, 2) in the image's pixels (ok: (17,) which keypoints to draw)."""
    from PIL import Image, ImageDraw

    with Image.open(path) as im:
        im = im.convert("RGB")
        if pose_xy is not None:
            d = ImageDraw.Draw(im)
            good = np.ones(17, bool) if ok is None else ok
            w = max(2, im.height // 120)
            for a, b in SKELETON:
                if good[a] and good[b]:
                    d.line([tuple(pose_xy[a]), tuple(pose_xy[b])], fill=(0, 255, 170), width=w)
        im.thumbnail((max_px, max_px))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=82)
    return data_uri(buf.getvalue(), "image/jpeg")


def rgb_uri(rgb: np.ndarray, max_px: int = THUMB_PX) -> str:
    from PIL import Image

    im = Image.fromarray(rgb)
    im.thumbnail((max_px, max_px))
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=82)
    return data_uri(buf.getvalue(), "image/jpeg")


def _side(a: int, b: int) -> str:
    if a % 2 == 1 and b % 2 == 1 and a > 0:
        return LEFT_RGB
    if a % 2 == 0 and b % 2 == 0 and a > 0:
        return RIGHT_RGB
    return MID_RGB


def stick_svg(vec: np.ndarray, size: int = 120, caption: str = "", css: str = "fig") -> str:
    """An inline SVG stick figure of a normalised pose vector (34,) (x, y interleaved, y down),
    fitted into size x size with a margin; `caption` is drawn under it."""
    xy = np.asarray(vec, dtype=np.float64).reshape(17, 2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = max(float((hi - lo).max()), 1e-9)
    m = size * 0.1
    pts = (xy - lo) / span * (size - 2 * m) + m
    pts[:, 0] += (size - 2 * m - (hi - lo)[0] / span * (size - 2 * m)) / 2  # centre horizontally
    cap_h = 16 if caption else 0
    parts = [f'<svg class="{css}" xmlns="http://www.w3.org/2000/svg" width="{size}" '
             f'height="{size + cap_h}" viewBox="0 0 {size} {size + cap_h}" role="img">',
             f'<rect width="{size}" height="{size}" rx="6" fill="#f4f1ea"/>']
    for a, b in SKELETON:
        (x1, y1), (x2, y2) = pts[a], pts[b]
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     f'stroke="{_side(a, b)}" stroke-width="3" stroke-linecap="round"/>')
    nose = pts[0]
    parts.append(f'<circle cx="{nose[0]:.1f}" cy="{nose[1]:.1f}" r="{size / 22:.1f}" '
                 f'fill="{MID_RGB}"/>')
    if caption:
        parts.append(f'<text x="{size / 2}" y="{size + 12}" text-anchor="middle" '
                     f'font-size="12">{esc(caption)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def placeholder_svg(text: str, size: int = 120) -> str:
    """A grey tile saying why there is no picture (an unreadable file)."""
    return (f'<svg class="ph" xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 {size} {size}" role="img"><rect width="{size}" height="{size}" '
            f'fill="#ddd"/><line x1="10" y1="10" x2="{size - 10}" y2="{size - 10}" stroke="#b55" '
            f'stroke-width="3"/><line x1="{size - 10}" y1="10" x2="10" y2="{size - 10}" '
            f'stroke="#b55" stroke-width="3"/><text x="{size / 2}" y="{size / 2 + 4}" '
            f'text-anchor="middle" font-size="11" fill="#222">{esc(text)}</text></svg>')


def distance_bar(distance: float, threshold: float, scale: float, width: int = 200) -> str:
    """A horizontal bar of `distance` on [0, scale] with the kiosk's threshold as a red tick;
    green within the threshold, grey beyond ("No good match" on the kiosk)."""
    x = min(distance / scale, 1.0) * width if np.isfinite(distance) else width
    t = min(threshold / scale, 1.0) * width
    fill = "#3a9a5b" if distance <= threshold else "#9a9a9a"
    return (f'<svg class="bar" xmlns="http://www.w3.org/2000/svg" width="{width}" height="18" '
            f'viewBox="0 0 {width} 18" role="img"><rect width="{width}" height="18" fill="#eee"/>'
            f'<rect y="3" width="{x:.1f}" height="12" fill="{fill}"/>'
            f'<line x1="{t:.1f}" y1="0" x2="{t:.1f}" y2="18" stroke="#c0392b" stroke-width="2"/>'
            "</svg>")
