"""The model's copy of a camera frame, made small in the pose worker (for the frames it estimates).

A pose model sees a few hundred pixels (MoveNet Lightning: 192x192); a 1920x1080 camera frame
is 10x larger on its long side. The model's own preprocessing would average it down on the
render loop's time; here the frame is first box-averaged by an integer factor k (in the pose
worker, in parallel with the render loop) to about twice the model input, which keeps
the same anti-aliasing and leaves the model's preprocessing almost nothing to do. Poses found
in the small frame are scaled back by k (pixel i's centre (i + 0.5) * k is the centre of the
k-pixel box it averages).

The averaging is a numba kernel that releases the GIL (extra `fast`), so the render loop never
waits on it; without numba, Pillow's reduce does the same (ragged right/bottom edges aside).
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.core.jit import njit, use_numba

log = logging.getLogger(__name__)


@njit(nogil=True)
def _box_reduce(src, k, out, rowacc):  # pragma: no cover - compiled
    # two passes per output row: the k source rows summed into rowacc (contiguous, SIMD-friendly),
    # then each output pixel's k columns of rowacc
    h, w = out.shape[0], out.shape[1]
    w3 = src.shape[1] * 3
    flat = src.reshape(src.shape[0], w3)
    n = k * k
    half = n // 2
    for y in range(h):
        first = flat[y * k]
        for j in range(w3):
            rowacc[j] = first[j]
        for dy in range(1, k):
            row = flat[y * k + dy]
            for j in range(w3):
                rowacc[j] += row[j]
        for x in range(w):
            base = x * k * 3
            for c in range(3):
                total = 0
                for dx in range(k):
                    total += rowacc[base + dx * 3 + c]
                out[y, x, c] = (total + half) // n


def box_reduce(frame: np.ndarray, k: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (H // k, W // k, 3) uint8, each pixel the rounded mean of a k x k box."""
    if use_numba():
        out = np.empty((frame.shape[0] // k, frame.shape[1] // k, 3), np.uint8)
        # a column sum of k rows fits uint16 up to k = 257 (257 * 255 = 65535)
        rowacc = np.empty(frame.shape[1] * 3, np.uint16 if k <= 257 else np.uint32)
        _box_reduce(np.ascontiguousarray(frame), k, out, rowacc)
        return out
    from PIL import Image

    h, w = frame.shape[0] // k * k, frame.shape[1] // k * k
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame[:h, :w])).reduce(k))


def reduce_factor(frame_hw: tuple[int, int], input_hw: tuple[int, int], preprocess: str = "default") -> int:
    """The largest k that keeps the reduced frame at least twice the model input where it matters:
    along the fitting side for "default" (letterbox), along both sides for "coral" (stretch)."""
    h, w = frame_hw
    ih, iw = input_hw
    ratio = min(h / ih, w / iw) if preprocess == "coral" else max(h / ih, w / iw)
    return max(int(ratio // 2), 1)


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel now, not on the first frame."""
    if use_numba():
        box_reduce(np.zeros((4, 4, 3), np.uint8), 2)


class ModelInput:
    """Callable for the pose worker (or the grabber): frame -> (model frame, k)."""

    def __init__(self, input_size: tuple[int, int] | None, preprocess: str = "default") -> None:
        self.input_size = tuple(input_size) if input_size else None
        self.preprocess = preprocess
        self._k: dict[tuple[int, int, float], int] = {}

    def __call__(self, frame: np.ndarray, canvas: float = 1.0) -> tuple[np.ndarray, int]:
        """canvas: the model gets the frame on a canvas this many times its size (a scale view's
        black margin, kiosk.pose.scales): the reduction keeps the canvas twice the input."""
        if self.input_size is None:
            return frame, 1
        hw = (int(frame.shape[0]), int(frame.shape[1]))
        k = self._k.get((*hw, canvas))
        if k is None:
            seen = (round(hw[0] * canvas), round(hw[1] * canvas))
            k = self._k[(*hw, canvas)] = reduce_factor(seen, self.input_size, self.preprocess)  # type: ignore[arg-type]
            log.debug("model input: %dx%d frames (canvas x%g) reduced by %d", hw[1], hw[0], canvas, k)
        if k <= 1:
            return frame, 1
        return box_reduce(frame, k), k
