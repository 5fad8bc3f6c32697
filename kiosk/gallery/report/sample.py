"""A sample gallery of drawn figures, to try the curator tools without photos or a pose model.

Nothing comes from ../shared: each "photo" is a stick figure drawn from a pose of the project's
synthesizer (kiosk.match.synth) on a plain background, and a scripted pose model (FakePoseModel)
answers each drawn image with the pose it was drawn from. The folder also holds broken files (a
truncated PNG, an empty file, text named .png), a near-duplicate and sources without captions, so
every part of the report has something to show. `scripts/curator_sample.py` runs it end to end.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from kiosk.match.synth import synth_poses
from kiosk.pose.model import PoseModel
from kiosk.pose.types import SKELETON, Pose

log = logging.getLogger(__name__)

GALLERY, QUERIES, SEED = 60, 3, 2024


def _key(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()


def draw(xy: np.ndarray, scores: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Pose]:
    """(H, W, 3) uint8 image of the figure, and its pose in that image's pixels."""
    from PIL import Image, ImageDraw

    lo, hi = xy.min(axis=0), xy.max(axis=0)
    h = float(hi[1] - lo[1])
    pad = np.array([rng.uniform(0.2, 0.8), rng.uniform(0.15, 0.5)]) * h + 8
    pts = xy - lo + pad
    size = (int(hi[0] - lo[0] + 2 * pad[0]), int(h + 2 * pad[1]))
    bg = tuple(int(v) for v in rng.integers(120, 235, 3))
    im = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(im)
    w = max(3, int(h / 40))
    for a, b in SKELETON:
        if scores[a] > 0.2 and scores[b] > 0.2:
            d.line([tuple(pts[a]), tuple(pts[b])], fill=(30, 30, 60), width=w)
    r = h / 14
    d.ellipse([pts[0, 0] - r, pts[0, 1] - r, pts[0, 0] + r, pts[0, 1] + r], fill=(200, 90, 60))
    rgb = np.asarray(im, dtype=np.uint8)
    return rgb, Pose(pts, np.clip(scores, 0, 1), float(np.mean(scores)))


def make_sample(out: Path) -> tuple[Path, list[Path], Path, PoseModel]:
    """(photos folder, query images, metadata CSV, pose model) under out."""
    from PIL import Image

    from kiosk.pose.fake import FakePoseModel

    rng = np.random.default_rng(SEED)
    photos, queries = out / "photos", out / "queries"
    photos.mkdir(parents=True, exist_ok=True)
    queries.mkdir(parents=True, exist_ok=True)
    known: dict[str, Pose] = {}
    xy, sc = synth_poses(GALLERY + QUERIES + 1, seed=SEED)
    paths = []
    whole = int(np.flatnonzero((sc[:GALLERY] > 0.2).all(axis=1))[0])  # a figure that is kept
    for i in range(GALLERY + QUERIES + 1):
        j = whole if i == GALLERY + QUERIES else i  # the last one redraws it: a near-duplicate
        rgb, pose = draw(xy[j], sc[j], rng)
        folder = queries if GALLERY <= i < GALLERY + QUERIES else photos
        path = folder / f"figure-{i:03d}.png"
        Image.fromarray(rgb).save(path)
        known[_key(rgb)] = pose
        paths.append(path)
    data = paths[1].read_bytes()
    (photos / "truncated.png").write_bytes(data[: len(data) // 3])
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "notes.png").write_text("not an image\n")
    meta = out / "credits.csv"
    rows = [f"figure-{i:03d}.png,Drawn figure {i},Move Mirror kiosk sample,CC0-1.0"
            for i in range(0, GALLERY, 2)]
    meta.write_text("source,title,credit,licence\n" + "\n".join(rows) + "\n")

    def answer(rgb: np.ndarray) -> list[Pose]:
        pose = known.get(_key(rgb))
        return [pose] if pose is not None else []

    model = FakePoseModel(answer, name="sample-figures")
    return photos, sorted(queries.glob("*.png")), meta, model
