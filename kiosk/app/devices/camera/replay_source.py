"""Replay sources: a video file (PyAV), a folder of images, or frames in memory.

This is how every test and the demo see "a camera". A replay is paced in real time at its
recorded rate (realtime=True) or returns frames as fast as they are asked for; at the end it
starts again (loop=True) or raises EndOfStream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from kiosk.app.devices.camera.source import CameraError, EndOfStream

log = logging.getLogger(__name__)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
#: Frame rate of an image folder (it has none of its own).
FOLDER_FPS = 5.0
#: A consumer more than this late resets the pacing clock instead of bursting to catch up.
_MAX_LAG_S = 0.5


class _Replay:
    """Pacing and looping around `_frames()`, an iterator of (rgb, pts seconds)."""

    kind = "replay"

    def __init__(self, name: str, fps: float, *, realtime: bool, loop: bool) -> None:
        self.name = name
        self.fps = float(fps) if fps and fps > 0 else FOLDER_FPS
        self.realtime = realtime
        self.loop = loop
        self.paced = realtime
        self.frames_read = 0
        self.loops = 0
        self._it: Iterator[tuple[np.ndarray, float]] | None = None
        self._due = 0.0
        self._last_pts: float | None = None
        #: media time of the last frame (s): pts, continuing across loops; the grabber stamps
        #: frames with it so smoothing sees the recorded motion whatever the replay speed.
        self.timestamp = 0.0
        self._sleep = time.sleep
        self._clock = time.monotonic

    # subclasses -------------------------------------------------------------------------
    def _frames(self) -> Iterator[tuple[np.ndarray, float]]:
        raise NotImplementedError

    # CameraSource -------------------------------------------------------------------------
    def start(self) -> None:
        self._it = self._frames()
        self._last_pts = None
        log.info("replay %s: %.2f fps, %s, %s", self.name, self.fps,
                 "real time" if self.realtime else "as fast as possible",
                 "looping" if self.loop else "once")

    def _next(self) -> tuple[np.ndarray, float]:
        if self._it is None:
            self.start()
        assert self._it is not None
        try:
            return next(self._it)
        except StopIteration:
            if not self.loop:
                raise EndOfStream(f"{self.name}: end of the recording after {self.frames_read} frames") \
                    from None
            self.loops += 1
            self._it = self._frames()
            self._last_pts = None
            try:
                return next(self._it)
            except StopIteration:
                raise CameraError(f"{self.name}: the recording has no frames") from None

    def capture(self, timeout: float) -> np.ndarray:
        rgb, pts = self._next()
        self.frames_read += 1
        if self._last_pts is None:
            step = 0.0 if self.frames_read <= 1 else 1.0 / self.fps
        else:
            step = pts - self._last_pts
            if not 0.0 <= step <= 10.0:
                step = 1.0 / self.fps
        self._last_pts = pts
        self.timestamp += step
        if self.realtime:
            self._pace(step)
        return rgb

    def _pace(self, step: float) -> None:
        now = self._clock()
        self._due = now if self.frames_read <= 1 else self._due + step
        if now - self._due > _MAX_LAG_S:
            self._due = now
        wait = self._due - now
        if wait > 0:
            self._sleep(wait)

    def close(self) -> None:
        self._it = None


class VideoReplay(_Replay):
    """A video file decoded with PyAV (extra `video`)."""

    def __init__(self, path: Path, *, realtime: bool, loop: bool) -> None:
        try:
            import av
        except ImportError as exc:
            raise CameraError(f"replay:{path} needs PyAV to read video: pip install '.[video]'") from exc
        self._av = av
        self.path = path
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise CameraError(f"replay:{path} has no video stream; "
                                      "use a video file or an image folder")
                stream = container.streams.video[0]
                fps = float(stream.average_rate or 0) or 30.0
        except CameraError:
            raise
        except Exception as exc:
            raise CameraError(f"replay:{path} cannot be read as a video ({exc}); check the file") from exc
        super().__init__(f"replay:{path}", fps, realtime=realtime, loop=loop)

    def _frames(self) -> Iterator[tuple[np.ndarray, float]]:
        n = 0
        try:
            with self._av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for n, frame in enumerate(container.decode(stream)):
                    pts = frame.time if frame.time is not None else n / self.fps
                    yield frame.to_ndarray(format="rgb24"), float(pts)
        except (self._av.error.FFmpegError, OSError, ValueError) as exc:
            raise CameraError(f"replay:{self.path} is damaged near frame {n} ({exc}); replace the "
                              "recording") from None


class FolderReplay(_Replay):
    """A folder of images (sorted by name), at `fps` frames per second."""

    def __init__(self, path: Path, *, realtime: bool, loop: bool, fps: float = FOLDER_FPS) -> None:
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not self.files:
            raise CameraError(f"replay:{path} holds no images ({', '.join(IMAGE_EXTS)}); "
                              "point it at a folder of images or a video file")
        super().__init__(f"replay:{path}", fps, realtime=realtime, loop=loop)

    def _frames(self) -> Iterator[tuple[np.ndarray, float]]:
        from kiosk.pose.images import ImageLoadError, load_image

        for n, f in enumerate(self.files):
            try:
                rgb = load_image(f)
            except ImageLoadError as exc:
                raise CameraError(f"replay image {exc}; remove or replace it") from exc
            yield rgb, n / self.fps


class ArrayReplay(_Replay):
    """Frames held in memory (benchmarks, tests)."""

    def __init__(self, frames: Sequence[np.ndarray], *, fps: float = 30.0, realtime: bool = False,
                 loop: bool = True, name: str = "replay:<memory>") -> None:
        if len(frames) == 0:
            raise CameraError(f"{name}: no frames given")
        self.frames = [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]
        super().__init__(name, fps, realtime=realtime, loop=loop)

    def _frames(self) -> Iterator[tuple[np.ndarray, float]]:
        for n, f in enumerate(self.frames):
            yield f, n / self.fps


def open_replay(path: Path, *, realtime: bool = True, loop: bool = True) -> _Replay:
    """A replay of a video file or an image folder; CameraError if it is missing or unreadable."""
    if not path.exists():
        raise CameraError(f"replay source {path} does not exist: check the path "
                          "(replay:PATH takes a video file or a folder of images)")
    if path.is_dir():
        return FolderReplay(path, realtime=realtime, loop=loop)
    return VideoReplay(path, realtime=realtime, loop=loop)
