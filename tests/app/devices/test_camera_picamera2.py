"""The picamera2 adapter against a fake `picamera2` module (no camera needed)."""

from __future__ import annotations

import sys
import types
from typing import ClassVar

import numpy as np
import pytest

from kiosk.app.devices.camera.source import CameraError, CameraTimeout, open_camera
from kiosk.app.service.config import CameraConfig


class FakeJob:
    def __init__(self, result: np.ndarray | None) -> None:
        self.result = result


class FakePicamera2:
    instances: ClassVar[list[FakePicamera2]] = []
    frame: np.ndarray | None = None  # None: the camera stops answering

    def __init__(self, camera_num: int = 0) -> None:
        self.config = None
        self.started = self.closed = False
        self.cancelled = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict) -> dict:
        return {"main": dict(main)}

    def configure(self, config: dict) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_array(self, name: str = "main", wait: bool | None = None) -> FakeJob:
        assert name == "main" and wait is False
        return FakeJob(None if FakePicamera2.frame is None else FakePicamera2.frame.copy())

    def wait(self, job: FakeJob, timeout: float | None = None) -> np.ndarray:
        if job.result is None:
            raise TimeoutError
        return job.result

    def cancel_all_and_flush(self) -> None:
        self.cancelled += 1

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture()
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    FakePicamera2.instances = []
    FakePicamera2.frame = None
    return FakePicamera2


def test_bgr888_arrays_are_used_as_rgb(fake_picamera2: type[FakePicamera2]) -> None:
    cam = open_camera("picamera2", CameraConfig(width=64, height=48))
    cam.start()
    pc = fake_picamera2.instances[0]
    assert pc.config == {"main": {"size": (64, 48), "format": "BGR888"}} and pc.started
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[..., 0], frame[..., 1], frame[..., 2] = 200, 100, 50  # picamera2's BGR888: R, G, B in numpy
    fake_picamera2.frame = frame
    got = cam.capture(1.0)
    assert got.shape == (48, 64, 3) and got.dtype == np.uint8
    assert tuple(got[0, 0]) == (200, 100, 50)  # no channel swap
    cam.close()
    assert pc.closed


def test_four_channel_capture_drops_padding(fake_picamera2: type[FakePicamera2]) -> None:
    cam = open_camera("picamera2", CameraConfig(width=64, height=48))
    cam.start()
    frame = np.zeros((48, 64, 4), np.uint8)
    frame[..., :3] = (10, 20, 30)
    frame[..., 3] = 255
    fake_picamera2.frame = frame
    got = cam.capture(1.0)
    assert got.shape == (48, 64, 3) and tuple(got[5, 5]) == (10, 20, 30) and got.flags.c_contiguous


def test_a_camera_that_stops_answering_times_out(fake_picamera2: type[FakePicamera2]) -> None:
    cam = open_camera("picamera2", CameraConfig())
    cam.start()
    fake_picamera2.frame = None
    with pytest.raises(CameraTimeout, match=r"no frame within 0\.5 s"):
        cam.capture(0.5)
    assert fake_picamera2.instances[0].cancelled == 1


def test_missing_picamera2_module_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    cam = open_camera("picamera2", CameraConfig())
    with pytest.raises(CameraError, match=r"python3-picamera2.*system-site-packages"):
        cam.start()


def test_no_camera_attached(fake_picamera2: type[FakePicamera2], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(camera_num: int = 0) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(sys.modules["picamera2"], "Picamera2", boom)
    cam = open_camera("picamera2", CameraConfig())
    with pytest.raises(CameraError, match=r"no Raspberry Pi camera 0 found.*ribbon cable"):
        cam.start()
