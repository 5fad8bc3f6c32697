"""How a kiosk camera meets an archive person: the query images of `kiosk eval match`.

Every archive person (a non-mirrored entry) is shown again as a new photo made from its
source image (a video's: the entry's frame), and the pose model runs on it (real detections,
never edited keypoints):

- ``whole``:    the curator's crop box of the person (the rendition's framing);
- ``waist_up``: the same box cut just above the hips (a visitor standing close);
- ``occluded``: the box with ~40% of the body painted over by a flat band (a counter, a
  pillar, another visitor), once from each side (BandSide: bottom, top, left, right);
- ``mirrored``: the box flipped left-right;
- ``other_model``: the whole box, seen by a different pose model than the archive's.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from kiosk.core.enums import BandSide, SizeBand
from kiosk.gallery.reader import GalleryIndex
from kiosk.pose.preprocess import ENLARGE_SMOOTH, PREPROCESS_VERSION, fit_scale
from kiosk.pose.types import Pose
from kiosk.pose.views import crop

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("whole", "waist_up", "occluded", "mirrored", "other_model")
#: Bump when the query images (or how the visitor is picked in them) change meaning: cached
#: query poses (`kiosk eval match --work`) are keyed by it.
QUERIES_VERSION = 3
#: Query images the archive's model enlarges more than this are reported apart ("far" people):
#: a kiosk camera never enlarges a visitor, so their figures measure the model on an enlarged
#: small crop as much as the match (docs/match-quality.md).
FAR_ENLARGEMENT = ENLARGE_SMOOTH  # far: the model input enlarges the crop smoothly (preprocess.py)
#: Fraction of the body's box painted over in "occluded".
OCCLUDED_FRACTION = 0.4


def sides_of(kind: str) -> tuple[BandSide | None, ...]:
    """The query images of a kind: an occluded one per side of the body, one of the others."""
    return tuple(BandSide) if kind == "occluded" else (None,)


@dataclass(frozen=True)
class Person:
    """An archive person: entry ids (the entry and its mirrored twin), source, box, pose."""

    entry_id: int
    twin_id: int | None
    source: str
    crop_box: tuple[int, int, int, int]
    pose: Pose  # source-image pixels
    frame_time: float | None = None  # a video's frame (seconds, as the index stores it); None: a photo

    @property
    def ids(self) -> frozenset[int]:
        return frozenset(i for i in (self.entry_id, self.twin_id) if i is not None)


def archive_people(index: GalleryIndex) -> list[Person]:
    """Every non-mirrored entry of the index as a Person (pose back in source pixels)."""
    w, h = index.display_size
    twins: dict[tuple[str, float | None, tuple[float, ...]], int] = {}
    entries = [index.entry(i) for i in range(len(index))]
    for e in entries:
        if e.mirrored:
            twins[(e.source, e.frame_time, e.crop_box)] = e.id
    people = []
    for e in entries:
        if e.mirrored:
            continue
        x0, y0, x1, y1 = e.crop_box
        pose = e.keypoints.scaled((x1 - x0) / w, (y1 - y0) / h).translated(x0, y0)
        box = (int(x0), int(y0), int(x1), int(y1))
        people.append(Person(e.id, twins.get((e.source, e.frame_time, e.crop_box)), e.source, box, pose,
                             e.frame_time))
    return people


def enlargement(p: Person, input_size: tuple[int, int]) -> float:
    """How much a model with input_size (height, width) enlarges the person's whole crop
    (its letterbox scale; below 1 it shrinks it)."""
    x0, y0, x1, y1 = p.crop_box
    return fit_scale((max(y1 - y0, 1), max(x1 - x0, 1)), input_size)


def size_band(p: Person, input_size: tuple[int, int]) -> SizeBand:
    """NEAR (the crop is enlarged less than FAR_ENLARGEMENT times by the model) or FAR."""
    return SizeBand.NEAR if enlargement(p, input_size) < FAR_ENLARGEMENT else SizeBand.FAR


def queries_key(index_id: str, people: list[Person]) -> str:
    """The cache key of an archive's query poses: the archive's content (its index id hashes
    the keypoints, whose boxes and poses make the query images and pick the visitor), the
    people asked about, QUERIES_VERSION and how model inputs are made (PREPROCESS_VERSION)."""
    shown = [(p.source, p.crop_box) if p.frame_time is None else (p.source, p.frame_time, p.crop_box)
             for p in people]
    text = repr((QUERIES_VERSION, PREPROCESS_VERSION, index_id, shown))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def padded_box(pose: Pose, pad: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The pose's box of confident keypoints (x0, y0, x1, y1) grown by pad x its larger side on
    every side, inside a width x height photo."""
    x0, y0, x1, y1 = pose.bbox(0.2)
    s = pad * max(x1 - x0, y1 - y0)
    return (max(int(x0 - s), 0), max(int(y0 - s), 0),
            min(int(np.ceil(x1 + s)), width), min(int(np.ceil(y1 + s)), height))


def _body_box(p: Person, min_score: float = 0.2) -> tuple[float, float, float, float]:
    return p.pose.bbox(min_score)


def waist_up(rgb: np.ndarray, p: Person, min_score: float = 0.2) -> np.ndarray | None:
    """The crop box cut above the hips (None when no hip is seen)."""
    hips = [i for i in (11, 12) if p.pose.scores[i] >= min_score]
    if not hips:
        return None
    x0, y0, x1, _ = p.crop_box
    sh = [i for i in (5, 6) if p.pose.scores[i] >= min_score]
    hip_y = float(min(p.pose.xy[i, 1] for i in hips))
    top_y = float(np.mean([p.pose.xy[i, 1] for i in sh])) if sh else float(y0)
    cut = round(hip_y - 0.15 * max(hip_y - top_y, 1.0))  # just above the hips
    if cut <= y0 + 8:
        return None
    return crop(rgb, (x0, y0, x1, cut))


def occluded(rgb: np.ndarray, p: Person, side: BandSide) -> np.ndarray:
    """The whole crop with OCCLUDED_FRACTION of the body box painted over from this side."""
    img = crop(rgb, p.crop_box).copy()
    bx0, by0, bx1, by1 = _body_box(p)
    ox, oy = p.crop_box[0], p.crop_box[1]
    bx0, bx1, by0, by1 = bx0 - ox, bx1 - ox, by0 - oy, by1 - oy
    bw, bh = bx1 - bx0, by1 - by0
    f = OCCLUDED_FRACTION
    x0, x1, y0, y1 = bx0 - 0.1 * bw, bx1 + 0.1 * bw, by0 - 0.1 * bh, by1 + 0.1 * bh
    if side is BandSide.BOTTOM:
        y0 = by1 - f * bh
    elif side is BandSide.TOP:
        y1 = by0 + f * bh
    elif side is BandSide.LEFT:
        x1 = bx0 + f * bw
    else:
        x0 = bx1 - f * bw
    h, w = img.shape[:2]
    xs = slice(int(max(x0, 0)), int(min(max(x1, 0), w)))
    ys = slice(int(max(y0, 0)), int(min(max(y1, 0), h)))
    img[ys, xs] = np.asarray([128, 128, 128], dtype=img.dtype)
    return img


def query_image(rgb: np.ndarray, p: Person, kind: str, side: BandSide | None = None
                ) -> np.ndarray | None:
    """The query image of one kind (None when the kind does not apply to this person); side:
    an occluded image's (sides_of)."""
    if kind in ("whole", "other_model"):
        return crop(rgb, p.crop_box)
    if kind == "waist_up":
        return waist_up(rgb, p)
    if kind == "occluded":
        if side is None:
            raise ValueError("an occluded query image needs the side its band covers")
        return occluded(rgb, p, side)
    if kind == "mirrored":
        return np.ascontiguousarray(crop(rgb, p.crop_box)[:, ::-1])
    raise ValueError(f"unknown query kind {kind!r}: expected one of {', '.join(KINDS)}")
