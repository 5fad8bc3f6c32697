"""How much a pose model's keypoint scores move with the way a frame is fitted to its input.

Issue 11 found MoveNet's scores up to 0.55 away from Coral's squat reference while our
decoding follows Coral's rules. Coral's references were made from a *stretched* input
(TFLite bilinear in libcoral's C++ tests, PIL's antialiasing filter in PyCoral's MoveNet
example); the kiosk letterboxes. This measures, on real frames, the spread of each keypoint's
score between fittings of the same frame:

- ``letterbox``: the kiosk's default (keep the aspect ratio, pad);
- ``stretch_nearest``: stretch, nearest neighbour (project-posenet's convention, `--preprocess coral`);
- ``stretch_bilinear``: stretch, two-tap bilinear without antialiasing (TFLite's ResizeBilinear);
- ``stretch_antialias``: stretch, PIL's Lanczos filter (PyCoral's `Image.ANTIALIAS`).

The stretched fittings are made at the model's input size and given to the model with its
input already that size, so the model's own resize is the identity.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from kiosk.core.enums import Fitting
from kiosk.pose.model import PoseModel
from kiosk.pose.preprocess import resize_bilinear, resize_nearest
from kiosk.pose.types import NUM_KEYPOINTS


def _stretch_antialias(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    h, w = size
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.LANCZOS, reducing_gap=None))


def fitted(rgb: np.ndarray, fitting: Fitting, input_size: tuple[int, int]) -> np.ndarray:
    """rgb (H, W, 3) uint8 as the model should receive it under `fitting`: the frame itself for
    LETTERBOX (the model letterboxes), else the stretched (input_h, input_w, 3) picture.

    Nearest and bilinear are kiosk.pose.preprocess's (PIL's NEAREST bit for bit; two-tap
    bilinear as TFLite's ResizeBilinear: PIL's BILINEAR widens its filter when reducing, which
    is an antialiasing filter, not TFLite's)."""
    h, w = input_size
    if fitting is Fitting.LETTERBOX:
        return rgb
    if fitting is Fitting.STRETCH_NEAREST:
        return resize_nearest(rgb, h, w)
    if fitting is Fitting.STRETCH_BILINEAR:
        return resize_bilinear(rgb, h, w)
    return _stretch_antialias(rgb, input_size)


def main_scores(model: PoseModel, rgb: np.ndarray) -> np.ndarray:
    """(17,) keypoint scores of the highest-scoring pose (zeros when there is none)."""
    poses = model.estimate(rgb)
    if not poses:
        return np.zeros(NUM_KEYPOINTS)
    return max(poses, key=lambda p: p.score).scores.astype(np.float64)


@dataclass(frozen=True)
class Spread:
    """|score difference| of the same keypoint between two fittings, over frames x keypoints."""

    a: Fitting
    b: Fitting
    max: float
    p95: float
    mean: float

    def to_dict(self) -> dict[str, float | str]:
        return {"a": str(self.a), "b": str(self.b), "max": round(self.max, 3),
                "p95": round(self.p95, 3), "mean": round(self.mean, 3)}


def spreads(table: np.ndarray, fittings: tuple[Fitting, ...] = tuple(Fitting)) -> list[Spread]:
    """Every pair of fittings' score spread from a score table (F, len(fittings), 17); none when
    F is 0 (no frame was read)."""
    out: list[Spread] = []
    if not len(table):
        return out
    for i, j in itertools.combinations(range(len(fittings)), 2):
        d = np.abs(table[:, i] - table[:, j])
        out.append(Spread(fittings[i], fittings[j], float(d.max()), float(np.percentile(d, 95)),
                          float(d.mean())))
    return out


def measure(load: Callable[[str], PoseModel], frames: Iterable[np.ndarray],
            fittings: tuple[Fitting, ...] = tuple(Fitting)) -> tuple[np.ndarray, list[Spread]]:
    """load(preprocess) -> a model; LETTERBOX runs on the `default` model, the stretches on the
    `coral` one (its nearest resize of an input-sized picture is the identity)."""
    letterbox, stretch = load("default"), load("coral")
    rows = []
    for rgb in frames:
        row = []
        for f in fittings:
            m = letterbox if f is Fitting.LETTERBOX else stretch
            row.append(main_scores(m, fitted(rgb, f, m.input_size)))
        rows.append(row)
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(fittings), NUM_KEYPOINTS)
    return table, spreads(table, fittings)
