"""A USB webcam through OpenCV (extra `webcam`: pip install '.[webcam]').

OpenCV returns BGR; frames are converted to RGB. cv2.VideoCapture.read() has no timeout of
its own, so the read runs in a worker thread and is waited on for `timeout` seconds.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from kiosk.app.devices.camera.source import CameraError, CameraTimeout

log = logging.getLogger(__name__)


class WebcamSource:
    paced = True
    timestamp: float | None = None  # live: the grabber stamps frames
    fps: float | None = None  # live: not known in advance

    def __init__(self, device: int, width: int, height: int) -> None:
        self.device = device
        self.name = f"webcam:{device}"
        self.size = (int(width), int(height))
        self._cap: Any = None
        self._cv2: Any = None
        self._reader: threading.Thread | None = None
        self._result: tuple[bool, Any] | None = None
        self._done = threading.Event()

    def start(self) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise CameraError(f"{self.name} needs OpenCV: pip install '.[webcam]'") from exc
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            raise CameraError(f"{self.name}: no webcam at /dev/video{self.device}; check the cable, "
                              "`ls /dev/video*` and that the kiosk user is in the video group")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap, self._cv2 = cap, cv2
        log.info("%s opened", self.name)

    def _read(self) -> None:
        try:
            self._result = self._cap.read()
        except Exception as exc:  # reported to capture()
            self._result = (False, exc)
        self._done.set()

    def capture(self, timeout: float) -> np.ndarray:
        if self._cap is None:
            self.start()
        if self._reader is None or not self._reader.is_alive():
            self._done.clear()
            self._result = None
            self._reader = threading.Thread(target=self._read, name=f"{self.name}-read", daemon=True)
            self._reader.start()
        if not self._done.wait(timeout):
            raise CameraTimeout(f"{self.name}: no frame within {timeout:.1f} s")
        self._reader = None
        ok, frame = self._result or (False, None)
        if not ok or frame is None or isinstance(frame, Exception):
            raise CameraError(f"{self.name}: read failed ({frame or 'no frame'}); "
                              "is the webcam still plugged in?")
        return np.ascontiguousarray(frame[:, :, ::-1])

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
