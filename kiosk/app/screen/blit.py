"""The live camera image into its screen slot: crop, scale (nearest), mirror and pixel-format
conversion in one pass, written straight into the canvas (numba, extra `fast`).

Without numba the same result comes from SDL: subsurface -> scale -> flip -> blit (about three
times the memory traffic). Index tables are computed once per (frame size, slot, mirror).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from kiosk.app.screen.layout import CoverMap
from kiosk.core.jit import njit, use_numba

log = logging.getLogger(__name__)


@njit(nogil=True)
def _blit_kernel(frame, out, ys, xs, x0, y0, rs, gs, bs, alpha):  # pragma: no cover - compiled
    for j in range(ys.shape[0]):
        row = frame[ys[j]]
        y = y0 + j
        for i in range(xs.shape[0]):
            p = row[xs[i]]
            v = (np.uint32(p[0]) << rs) | (np.uint32(p[1]) << gs) | (np.uint32(p[2]) << bs)
            out[x0 + i, y] = v | alpha


def index_tables(frame_w: int, frame_h: int, cmap: CoverMap, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """(rows (dest.h,), cols (dest.w,)) int32: the frame pixel shown at each slot pixel.

    The crop is in the coordinates of the image as shown (mirrored when mirror is set)."""
    c, d = cmap.crop, cmap.dest
    xs = c.x + ((np.arange(d.w) + 0.5) * (c.w / d.w)).astype(np.int64)
    ys = c.y + ((np.arange(d.h) + 0.5) * (c.h / d.h)).astype(np.int64)
    xs = np.clip(xs, 0, frame_w - 1)
    ys = np.clip(ys, 0, frame_h - 1)
    if mirror:
        xs = frame_w - 1 - xs
    return ys.astype(np.int32), xs.astype(np.int32)


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel now, not on the first frame."""
    if use_numba():
        out = np.zeros((2, 2), np.uint32)
        tables = np.zeros(2, np.int32)
        _blit_kernel(np.zeros((2, 2, 3), np.uint8), out, tables, tables, 0, 0, 16, 8, 0, np.uint32(0))


class CameraBlitter:
    def __init__(self) -> None:
        import pygame

        self.pg = pygame
        self.fast = use_numba()
        self._key: tuple[Any, ...] = ()
        self._tables: tuple[np.ndarray, np.ndarray] | None = None
        self._scaled: Any = None

    def blit(self, canvas: Any, frame: np.ndarray, cmap: CoverMap, mirror: bool) -> None:
        h, w = frame.shape[:2]
        if self.fast and canvas.get_bitsize() == 32:
            key = (w, h, cmap, mirror)
            if key != self._key or self._tables is None:
                self._tables = index_tables(w, h, cmap, mirror)
                self._key = key
            ys, xs = self._tables
            rs, gs, bs, _ = canvas.get_shifts()
            alpha = np.uint32(canvas.get_masks()[3])
            px = self.pg.surfarray.pixels2d(canvas)
            try:
                _blit_kernel(frame, px, ys, xs, cmap.dest.x, cmap.dest.y, rs, gs, bs, alpha)
            finally:
                del px
            return
        self._blit_sdl(canvas, frame, cmap, mirror)

    def _blit_sdl(self, canvas: Any, frame: np.ndarray, cmap: CoverMap, mirror: bool) -> None:
        pg = self.pg
        h, w = frame.shape[:2]
        if not frame.flags.c_contiguous:
            frame = np.ascontiguousarray(frame)
        src = pg.image.frombuffer(frame, (w, h), "RGB")
        c, d = cmap.crop, cmap.dest
        cx = w - c.x - c.w if mirror else c.x  # the crop in the unmirrored frame
        sub = src.subsurface((cx, c.y, c.w, c.h))
        if (c.w, c.h) != d.size:
            if self._scaled is None or self._scaled.get_size() != d.size:
                self._scaled = pg.Surface(d.size, 0, sub)
            pg.transform.scale(sub, d.size, self._scaled)
            sub = self._scaled
        if mirror:
            sub = pg.transform.flip(sub, True, False)
        canvas.blit(sub, (d.x, d.y))
