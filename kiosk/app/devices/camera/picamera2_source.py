"""The Raspberry Pi camera through picamera2 (imported only when this source is used).

picamera2 names formats after libcamera/DRM, which are little-endian: `BGR888` gives numpy
arrays whose last axis is R, G, B. So we ask for BGR888 and get RGB without any conversion.

Each capture is an asynchronous job (`capture_array(wait=False)`) waited on with a timeout,
so a camera that stops answering raises CameraTimeout instead of hanging the loop.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from kiosk.app.devices.camera.source import CameraError, CameraTimeout

log = logging.getLogger(__name__)

#: picamera2 format that yields R, G, B order in numpy (names are inverted).
FORMAT = "BGR888"


class Picamera2Source:
    name = "picamera2"
    paced = True
    timestamp: float | None = None  # live: the grabber stamps frames
    fps: float | None = None  # live: not known in advance

    def __init__(self, width: int, height: int, camera_num: int = 0) -> None:
        self.size = (int(width), int(height))
        self.camera_num = camera_num
        self._cam: Any = None

    def start(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError(
                "the picamera2 source needs the picamera2 module: on Raspberry Pi OS run "
                "`sudo apt install python3-picamera2` and make the venv with --system-site-packages "
                "(or choose camera.source webcam:N or replay:PATH)"
            ) from exc
        try:
            cam = Picamera2(self.camera_num)
        except Exception as exc:  # picamera2 raises IndexError/RuntimeError when no camera is attached
            raise CameraError(
                f"no Raspberry Pi camera {self.camera_num} found ({exc}): check the ribbon cable and "
                "that `rpicam-hello --list-cameras` lists it"
            ) from exc
        try:
            config = cam.create_video_configuration(main={"size": self.size, "format": FORMAT})
            cam.configure(config)
            cam.start()
        except Exception as exc:
            cam.close()
            raise CameraError(f"the Raspberry Pi camera cannot start at {self.size} {FORMAT} ({exc}); "
                              "check camera.width/height and that no other program uses it") from exc
        self._cam = cam
        log.info("picamera2 started: %dx%d %s", self.size[0], self.size[1], FORMAT)

    def capture(self, timeout: float) -> np.ndarray:
        if self._cam is None:
            self.start()
        cam = self._cam
        try:
            job = cam.capture_array("main", wait=False)
            array = cam.wait(job, timeout=timeout)
        except TimeoutError as exc:
            cancel = getattr(cam, "cancel_all_and_flush", None)
            if cancel is not None:
                try:
                    cancel()
                except Exception:  # best effort: the next capture will tell
                    log.debug("picamera2: cancelling the stalled capture failed", exc_info=True)
            raise CameraTimeout(f"picamera2: no frame within {timeout:.1f} s") from exc
        except Exception as exc:
            raise CameraError(f"picamera2: capture failed ({exc})") from exc
        return to_rgb(array)

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        try:
            cam.stop()
        finally:
            cam.close()


def to_rgb(array: np.ndarray) -> np.ndarray:
    """A BGR888 (R, G, B in numpy) or XBGR8888 (R, G, B, X) capture as (H, W, 3) uint8 RGB."""
    a = np.asarray(array)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype != np.uint8:
        raise CameraError(f"picamera2 returned an unexpected array {a.shape} {a.dtype}; expected {FORMAT}")
    if a.shape[2] == 4:
        a = np.ascontiguousarray(a[:, :, :3])
    return a
