"""The webcam adapter against a fake `cv2` module (no OpenCV, no device needed)."""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pytest

from kiosk.app.devices.camera.source import CameraError, CameraTimeout, open_camera
from kiosk.app.service.config import CameraConfig


class FakeCapture:
    opened = True
    frame: np.ndarray | None = None
    block = threading.Event()

    def __init__(self, device: int) -> None:
        self.device = device
        self.props: dict[int, float] = {}

    def isOpened(self) -> bool:  # OpenCV spells it so
        return FakeCapture.opened

    def set(self, prop: int, value: float) -> None:
        self.props[prop] = value

    def read(self):
        if FakeCapture.frame is None:
            FakeCapture.block.wait(2.0)
            return False, None
        return True, FakeCapture.frame.copy()

    def release(self) -> None:
        pass


@pytest.fixture()
def fake_cv2(monkeypatch: pytest.MonkeyPatch) -> type[FakeCapture]:
    module = types.ModuleType("cv2")
    module.VideoCapture = FakeCapture  # type: ignore[attr-defined]
    module.CAP_PROP_FRAME_WIDTH, module.CAP_PROP_FRAME_HEIGHT, module.CAP_PROP_BUFFERSIZE = 3, 4, 38
    monkeypatch.setitem(sys.modules, "cv2", module)
    FakeCapture.opened, FakeCapture.frame = True, None
    FakeCapture.block = threading.Event()
    return FakeCapture


def test_bgr_frames_become_rgb(fake_cv2: type[FakeCapture]) -> None:
    cam = open_camera("webcam:1", CameraConfig())
    cam.start()
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[..., 0] = 30  # blue
    bgr[..., 2] = 200  # red
    fake_cv2.frame = bgr
    rgb = cam.capture(1.0)
    assert tuple(rgb[0, 0]) == (200, 0, 30) and rgb.flags.c_contiguous
    cam.close()


def test_a_webcam_that_stops_answering_times_out(fake_cv2: type[FakeCapture]) -> None:
    cam = open_camera("webcam:0", CameraConfig())
    cam.start()
    with pytest.raises(CameraTimeout, match=r"webcam:0: no frame within 0\.2 s"):
        cam.capture(0.2)
    fake_cv2.block.set()
    with pytest.raises(CameraError, match="read failed"):
        cam.capture(1.0)  # the stalled read finally returned nothing


def test_missing_device_says_what_to_check(fake_cv2: type[FakeCapture]) -> None:
    fake_cv2.opened = False
    cam = open_camera("webcam:3", CameraConfig())
    with pytest.raises(CameraError, match=r"no webcam at /dev/video3.*video group"):
        cam.start()
