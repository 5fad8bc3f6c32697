"""Fitting a frame to a model input, in pure numpy, and mapping model coordinates back.

Two modes:
    "default": keep the aspect ratio: resize the frame to fit inside the input and pad the rest
               (black), centred. Large reductions first average integer blocks (anti-aliasing);
               enlargements of ENLARGE_SMOOTH times or more (a small photo, a crop of a small
               person) interpolate bilinearly, as TFLite's and Coral's resizes do: nearest
               neighbour would turn every pixel into a flat block, edges no camera makes
               (docs/match-quality.md). Smaller enlargements stay nearest neighbour (a frame
               a pixel smaller than the input is passed on unblurred).
    "coral":   stretch the frame to the input size with nearest neighbour, exactly as Coral's
               PoseNet reference code (PIL ``Image.resize(..., NEAREST)``) did.

A margin m (kiosk.pose.scales: the frame seen smaller, as if centred on a black canvas with m
of its width and height on every side) is fitted the same way, without building the canvas: the
frame is resized to fit the input shrunk by 1 + 2m and centred in it, black round it.

Coordinates: continuous pixels, x right, y down, the centre of the top-left pixel at (0.5, 0.5)
(the convention of :class:`kiosk.pose.types.Pose`). :class:`Transform` maps continuous model-input
coordinates to continuous source-frame coordinates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from kiosk.core.enums import Preprocess

log = logging.getLogger(__name__)

#: Identifies how frames are fitted to a model input: part of every pose cache key (bump it when
#: the pixels a model sees change).
PREPROCESS_VERSION = 2
#: Enlargements by at least this factor are interpolated (see the module doc).
ENLARGE_SMOOTH = 2.0


@dataclass(frozen=True)
class Transform:
    """model = source * scale + offset, per axis (continuous pixel coordinates).

    scale_x/scale_y: model pixels per source pixel; offset_x/offset_y: padding before the content.
    source_size / input_size: (height, width).
    """

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    source_size: tuple[int, int]
    input_size: tuple[int, int]

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) continuous (x, y) in the model input -> (..., 2) float32 in the source frame."""
        xy = np.asarray(xy, dtype=np.float32)
        scale = np.array([self.scale_x, self.scale_y], dtype=np.float32)
        offset = np.array([self.offset_x, self.offset_y], dtype=np.float32)
        return (xy - offset) / scale

    def to_model(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) continuous (x, y) in the source frame -> (..., 2) in the model input."""
        xy = np.asarray(xy, dtype=np.float32)
        scale = np.array([self.scale_x, self.scale_y], dtype=np.float32)
        offset = np.array([self.offset_x, self.offset_y], dtype=np.float32)
        return xy * scale + offset


def _check_frame(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB frame, got {rgb.dtype}")
    return rgb


def nearest_indices(src: int, dst: int) -> np.ndarray:
    """Source index for each of dst output pixels, exactly as PIL's NEAREST resize picks them.

    Pillow walks the output accumulating the scale in double precision, starting at half a step
    (``x = 0.5 * s; x += s`` ...) and truncates; cumsum reproduces those roundings bit for bit.
    """
    step = src / dst
    acc = np.full(dst, step, dtype=np.float64)
    acc[0] = 0.5 * step
    idx = np.cumsum(acc).astype(np.intp)
    return np.minimum(idx, src - 1)


def _gather(rgb: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """rgb[ys][:, xs], as two separable takes (much faster than one 2-D fancy index)."""
    if len(ys) == rgb.shape[0] and len(xs) == rgb.shape[1]:
        if (ys == np.arange(len(ys))).all() and (xs == np.arange(len(xs))).all():
            return rgb
    return np.take(np.take(rgb, ys, axis=0), xs, axis=1)


def resize_nearest(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) -> (height, width, C) by nearest neighbour (PIL-compatible sampling)."""
    return _gather(rgb, nearest_indices(rgb.shape[0], height), nearest_indices(rgb.shape[1], width))


def block_reduce(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping factor x factor blocks (the ragged right/bottom edge is dropped)."""
    if factor <= 1:
        return rgb
    h = rgb.shape[0] // factor
    w = rgb.shape[1] // factor
    acc = np.zeros((h, w, rgb.shape[2]), dtype=np.uint32)
    for dy in range(factor):
        for dx in range(factor):
            acc += rgb[dy : h * factor : factor, dx : w * factor : factor]
    n = factor * factor
    acc += n // 2
    acc //= n
    return acc.astype(np.uint8)


def check_margin(margin: float) -> float:
    """The margin (kiosk.pose.scales) as a float, or ValueError outside [0, 1] (NaN too)."""
    if not 0.0 <= margin <= 1.0:  # NaN fails too
        raise ValueError(f"margin must be within [0, 1], got {margin!r}")
    return float(margin)


def stretch(rgb: np.ndarray, input_size: tuple[int, int], margin: float = 0.0
            ) -> tuple[np.ndarray, Transform]:
    """Coral's preprocessing: stretch to (height, width) with nearest neighbour (with a margin:
    to the input shrunk by 1 + 2 margin, centred, black round it)."""
    rgb = _check_frame(rgb)
    h, w = input_size
    sh, sw = rgb.shape[:2]
    if check_margin(margin) == 0.0:
        out = np.ascontiguousarray(resize_nearest(rgb, h, w))
        return out, Transform(w / sw, h / sh, 0.0, 0.0, (sh, sw), (h, w))
    nh, nw = max(1, round(h / (1 + 2 * margin))), max(1, round(w / (1 + 2 * margin)))
    oy, ox = (h - nh) // 2, (w - nw) // 2
    out = np.zeros((h, w, 3), dtype=np.uint8)
    out[oy:oy + nh, ox:ox + nw] = resize_nearest(rgb, nh, nw)
    return out, Transform(nw / sw, nh / sh, float(ox), float(oy), (sh, sw), (h, w))


def _bilinear_axis(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower index, upper index, (dst,) float32 weight of the upper) sampling dst output pixels
    from src, pixel centres aligned (TensorFlow's half_pixel_centers, PIL's bilinear)."""
    pos = np.clip((np.arange(dst) + 0.5) * (src / dst) - 0.5, 0.0, src - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, src - 1)
    return lo, hi, (pos - lo).astype(np.float32)


def resize_bilinear(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) uint8 -> (height, width, C) uint8 by bilinear interpolation (two taps per axis,
    as TFLite's ResizeBilinear: no antialiasing when reducing; the letterbox uses it to enlarge)."""
    y0, y1, wy = _bilinear_axis(rgb.shape[0], height)
    x0, x1, wx = _bilinear_axis(rgb.shape[1], width)
    a = rgb.astype(np.float32)
    rows = a[y0] + (a[y1] - a[y0]) * wy[:, None, None]
    out = rows[:, x0] + (rows[:, x1] - rows[:, x0]) * wx[None, :, None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _fit_nearest(rgb: np.ndarray, nh: int, nw: int, scale: float) -> np.ndarray:
    """rgb (H, W, 3) resized by `scale` (< ENLARGE_SMOOTH) to (nh, nw): nearest neighbour, after
    averaging integer blocks when it reduces more than 2x (anti-aliasing)."""
    sh, sw = rgb.shape[:2]
    # at most the short side: a strip (8x2000) must keep a row of blocks
    factor = min(int(1.0 / scale), sh, sw) if scale < 0.5 else 1
    src = block_reduce(rgb, factor)
    # sample the block-reduced image at the same continuous positions as the original
    ys = ((np.arange(nh) + 0.5) * (sh / nh) / factor).astype(np.intp)
    xs = ((np.arange(nw) + 0.5) * (sw / nw) / factor).astype(np.intp)
    np.minimum(ys, src.shape[0] - 1, out=ys)
    np.minimum(xs, src.shape[1] - 1, out=xs)
    return _gather(src, ys, xs)


def fit_scale(source_size: tuple[float, float], input_size: tuple[int, int]) -> float:
    """The letterbox's scale of a (height, width) source fitted into input_size (height, width):
    above 1 it enlarges (ENLARGE_SMOOTH and up: bilinear), below 1 it reduces."""
    return min(input_size[0] / source_size[0], input_size[1] / source_size[1])


def letterbox(rgb: np.ndarray, input_size: tuple[int, int], margin: float = 0.0
              ) -> tuple[np.ndarray, Transform]:
    """Keep the aspect ratio: resize to fit (height, width), pad (black), content centred (with a
    margin: fitted as the frame with margin of its size on every side would be)."""
    rgb = _check_frame(rgb)
    h, w = input_size
    sh, sw = rgb.shape[:2]
    grow = 1.0 + 2.0 * check_margin(margin)
    scale = fit_scale((sh * grow, sw * grow), input_size)
    nh = min(h, max(1, round(sh * scale)))
    nw = min(w, max(1, round(sw * scale)))
    oy = (h - nh) // 2
    ox = (w - nw) // 2
    out = np.zeros((h, w, 3), dtype=np.uint8)
    if scale >= ENLARGE_SMOOTH:  # see the module doc
        out[oy : oy + nh, ox : ox + nw] = resize_bilinear(rgb, nh, nw)
    else:
        out[oy : oy + nh, ox : ox + nw] = _fit_nearest(rgb, nh, nw, scale)
    return out, Transform(nw / sw, nh / sh, float(ox), float(oy), (sh, sw), (h, w))


def prepare(
    rgb: np.ndarray, input_size: tuple[int, int], mode: str = Preprocess.DEFAULT, margin: float = 0.0
) -> tuple[np.ndarray, Transform]:
    """Fit an (H, W, 3) uint8 RGB frame to input_size=(height, width) with the given mode and
    margin (module doc).

    Returns the (height, width, 3) uint8 model input and the Transform back to the frame.
    """
    if Preprocess.parse(mode, "preprocess") is Preprocess.CORAL:
        return stretch(rgb, input_size, margin)
    return letterbox(rgb, input_size, margin)
