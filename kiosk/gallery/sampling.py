"""Which frames of a source reach the pose model: chunks of video time and still-frame skipping.

Both build engines call these (the local one in `worker.process_source`, the Ray one in
`cluster`), so they see exactly the same frames:

* **Chunks.** A video is cut into spans of `chunk_frames` sampled frames of video time
  (`chunk_frames / fps` seconds; with every frame sampled, `chunk_frames / average frame rate`).
  Span boundaries are multiples of the sampling step, and `iter_video_frames` samples the first
  frame of every 1/fps bin, so decoding span by span (seeking to each start) yields the same
  frames as one pass. The Ray engine decodes the spans in parallel.
* **Still frames** (`still_threshold` > 0, the build's `--skip-still`): a sampled video frame is
  skipped before the model when its grey thumbnail differs from that of the last frame the model
  ran on by less than the threshold. The thumbnail is the luma (ITU-R 601: 0.299 R + 0.587 G +
  0.114 B) of every 4th pixel, averaged over a 32 x 32 grid of blocks; the difference is the
  mean absolute difference of the 1024 cells in grey levels (0-255). The comparison restarts at
  each chunk (the first frame of a chunk always runs the model), so the decision does not depend
  on which engine or worker decodes the chunk. On the squats recording consecutive frames at
  5 fps differ by 0.2-5.7 grey levels, at 2 fps by 0.7-8.3 (see docs/cluster.md for savings).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.gallery.sources import Source, iter_video_frames, load_image

log = logging.getLogger(__name__)

#: Sampled frames per chunk (the unit of work of the Ray engine).
DEFAULT_CHUNK_FRAMES = 64
#: Thumbnail grid (cells per side) and pixel stride of the still-frame test.
THUMB_CELLS = 32
THUMB_STRIDE = 4
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

Span = tuple[float, float | None]  # [start, end) in seconds of video time; end None: to the end


@dataclass(frozen=True)
class Sample:
    """A sampled frame: time (None for a photo), RGB (H, W, 3) uint8, and whether it was
    judged still (then the model is not run on it)."""

    time: float | None
    rgb: np.ndarray
    still: bool = False


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """(THUMB_CELLS, THUMB_CELLS) float32 grey levels of an (H, W, 3) uint8 RGB frame."""
    small = rgb[::THUMB_STRIDE, ::THUMB_STRIDE].astype(np.float32) @ _LUMA
    h, w = small.shape
    if h < THUMB_CELLS or w < THUMB_CELLS:  # tiny frames: compare them whole
        return small
    rows = np.linspace(0, h, THUMB_CELLS + 1).astype(int)
    cols = np.linspace(0, w, THUMB_CELLS + 1).astype(int)
    sums = np.add.reduceat(np.add.reduceat(small, rows[:-1], axis=0), cols[:-1], axis=1)
    return (sums / np.outer(np.diff(rows), np.diff(cols))).astype(np.float32)


class StillFilter:
    """Says whether a frame barely differs from the last frame that was *not* still."""

    def __init__(self, threshold: float) -> None:
        self.threshold = float(threshold)
        self._ref: np.ndarray | None = None

    def is_still(self, rgb: np.ndarray) -> bool:
        if self.threshold <= 0:
            return False
        th = thumbnail(rgb)
        if self._ref is not None and self._ref.shape == th.shape:
            if float(np.abs(th - self._ref).mean()) < self.threshold:
                return True
        self._ref = th
        return False


def chunk_spans(path: Path, fps: float | None, chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> list[Span]:
    """The spans a video is decoded in: [(0, s), (s, 2s), ..., (ks, None)], s = chunk seconds.

    One span (0, None) when the duration or frame rate is unknown (or the file does not open:
    decoding reports that)."""
    import av

    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            duration = c.duration / 1e6 if c.duration else None
            rate = float(stream.average_rate) if stream.average_rate else None
    except (av.error.FFmpegError, OSError, IndexError):
        return [(0.0, None)]
    per_frame = 1.0 / fps if fps and fps > 0 else (1.0 / rate if rate else None)
    if duration is None or per_frame is None or chunk_frames < 1:
        return [(0.0, None)]
    seconds = chunk_frames * per_frame
    n = max(1, int(np.ceil(duration / seconds - 1e-9)))
    bounds = [round(k * seconds, 6) for k in range(n)]
    return [(b, bounds[k + 1] if k + 1 < n else None) for k, b in enumerate(bounds)]


def sample_span(src: Source, fps: float | None, span: Span, still_threshold: float) -> Iterator[Sample]:
    """The samples of one chunk of a source (a photo is one chunk of one frame)."""
    if src.kind == "image":
        yield Sample(None, load_image(src.path))
        return
    still = StillFilter(still_threshold)
    for t, rgb in iter_video_frames(src.path, fps, span=span):
        yield Sample(t, rgb, still.is_still(rgb))


def source_spans(src: Source, fps: float | None, still_threshold: float, chunk_frames: int) -> list[Span]:
    """Spans of a source. Without still skipping, chunks do not change what is sampled, so a
    local pass decodes in one go; with it, chunk boundaries reset the comparison."""
    if src.kind == "image" or still_threshold <= 0:
        return [(0.0, None)]
    return chunk_spans(src.path, fps, chunk_frames)


def sample_source(
    src: Source, fps: float | None, still_threshold: float = 0.0, chunk_frames: int = DEFAULT_CHUNK_FRAMES
) -> Iterator[Sample]:
    """Every sample of a source, chunk after chunk (the local engine)."""
    for span in source_spans(src, fps, still_threshold, chunk_frames):
        yield from sample_span(src, fps, span, still_threshold)
