"""The model's copy of each camera frame, made small in the capture thread.

A pose model sees a few hundred pixels (MoveNet Lightning: 192x192); a 1920x1080 camera frame
is 10x larger on its long side. The model's own preprocessing would average it down on the
loop's thread; here the frame is first box-averaged by an integer factor k (Pillow's reduce,
in the capture thread, in parallel with the loop) to about twice the model input, which keeps
the same anti-aliasing and leaves the model's preprocessing almost nothing to do. Poses found
in the small frame are scaled back by k (pixel i's centre (i + 0.5) * k is the centre of the
k-pixel box it averages).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def reduce_factor(frame_hw: tuple[int, int], input_hw: tuple[int, int], preprocess: str = "default") -> int:
    """The largest k that keeps the reduced frame at least twice the model input where it matters:
    along the fitting side for "default" (letterbox), along both sides for "coral" (stretch)."""
    h, w = frame_hw
    ih, iw = input_hw
    ratio = min(h / ih, w / iw) if preprocess == "coral" else max(h / ih, w / iw)
    return max(int(ratio // 2), 1)


class ModelInput:
    """Callable for the grabber: frame -> (model frame, k)."""

    def __init__(self, input_size: tuple[int, int] | None, preprocess: str = "default") -> None:
        self.input_size = tuple(input_size) if input_size else None
        self.preprocess = preprocess
        self._k: dict[tuple[int, int], int] = {}

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, int]:
        if self.input_size is None:
            return frame, 1
        hw = (int(frame.shape[0]), int(frame.shape[1]))
        k = self._k.get(hw)
        if k is None:
            k = self._k[hw] = reduce_factor(hw, self.input_size, self.preprocess)  # type: ignore[arg-type]
            log.debug("model input: %dx%d frames reduced by %d", hw[1], hw[0], k)
        if k <= 1:
            return frame, 1
        from PIL import Image

        return np.asarray(Image.fromarray(frame).reduce(k)), k
