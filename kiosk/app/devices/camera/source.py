"""Camera sources: one small interface, three adapters (picamera2, webcam, replay).

`open_camera(source, config)` parses a source string and imports only the adapter it needs:

    picamera2        the Raspberry Pi camera (picamera2_source.py)
    webcam:N         a USB webcam through OpenCV, device N (webcam_source.py, extra `webcam`)
    replay:PATH      a video file or a folder of images (replay_source.py)

Every source returns frames as (H, W, 3) uint8 RGB arrays. Mirroring and rotation
(camera.mirror, camera.rotation) are not applied by the sources: the loop handles them.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from kiosk.app.service.config import CameraConfig

log = logging.getLogger(__name__)

__all__ = [
    "CameraError",
    "CameraFailed",
    "CameraKind",
    "CameraSource",
    "CameraTimeout",
    "EndOfStream",
    "open_camera",
    "parse_source",
    "source_problem",
]


class CameraError(RuntimeError):
    """A capture failed (device missing, read error, ...). The message says what to do."""


class CameraTimeout(CameraError):
    """A capture took longer than camera.capture_timeout_s."""


class CameraFailed(CameraError):
    """The grabber gave up after camera.max_failures consecutive failures."""


class EndOfStream(Exception):
    """A replay that does not loop has shown its last frame."""


@runtime_checkable
class CameraSource(Protocol):
    """What the grabber needs from a camera.

    name:     a short description for logs and the status file ("replay:clip.mp4").
    paced:    True when capture() itself waits for the next frame (a real camera, a
              real-time replay); False when it returns at once (replay as fast as possible),
              in which case the grabber only captures when the loop has taken the last frame.
    timestamp: the media time (s) of the last frame for replays; None for live cameras (the
              grabber then stamps frames with time.monotonic()).
    fps:      the recorded frame rate of a replay; None for live cameras.
    """

    name: str
    paced: bool

    @property
    def timestamp(self) -> float | None: ...

    @property
    def fps(self) -> float | None: ...  # the nominal frame rate (replays); None when not known

    def start(self) -> None: ...

    def capture(self, timeout: float) -> np.ndarray:
        """The next frame, (H, W, 3) uint8 RGB. Raises CameraTimeout, CameraError or EndOfStream."""
        ...

    def close(self) -> None: ...


class CameraKind(StrEnum):
    """The camera source grammar's kinds: `picamera2`, `webcam:N`, `replay:PATH` (its one owner)."""

    PICAMERA2 = "picamera2"
    WEBCAM = "webcam"
    REPLAY = "replay"


def parse_source(source: str) -> tuple[CameraKind, str]:
    """'webcam:0' -> (WEBCAM, '0'); 'picamera2' -> (PICAMERA2, ''). Raises CameraError saying why."""
    kind, sep, arg = source.partition(":")
    kind = kind.strip().lower()
    if kind not in {k.value for k in CameraKind}:
        raise CameraError(f"{source!r} is not a camera source: use picamera2, webcam:N or replay:PATH")
    if kind == CameraKind.PICAMERA2 and sep:
        raise CameraError(f"{source!r}: picamera2 takes no argument (use picamera2)")
    if kind == CameraKind.WEBCAM and not arg.strip().isdigit():
        raise CameraError(f"{source!r}: a webcam source needs a device number, e.g. webcam:0")
    if kind == CameraKind.REPLAY and not arg.strip():
        raise CameraError(f"{source!r}: a replay source needs a path, e.g. replay:clip.mp4")
    return CameraKind(kind), arg.strip()


def source_problem(source: str) -> str | None:
    """Why `source` is not a camera source (for config validation and --source), or None."""
    try:
        parse_source(source)
    except CameraError as exc:
        return str(exc)
    return None


def open_camera(source: str, config: CameraConfig) -> CameraSource:
    """The camera for `source` (not started yet). Raises CameraError naming what is missing."""
    kind, arg = parse_source(source)
    if kind == "picamera2":
        from kiosk.app.devices.camera.picamera2_source import Picamera2Source

        return Picamera2Source(config.width, config.height)
    if kind == "webcam":
        from kiosk.app.devices.camera.webcam_source import WebcamSource

        return WebcamSource(int(arg), config.width, config.height)
    from kiosk.app.devices.camera.replay_source import open_replay

    return open_replay(Path(arg).expanduser(), realtime=config.replay_realtime, loop=config.replay_loop)
