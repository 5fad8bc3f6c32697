"""Replay sources: video, image folder, in-memory frames; pacing, looping, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.app.devices.camera.replay_source import ArrayReplay, FolderReplay, VideoReplay
from kiosk.app.devices.camera.source import CameraError, EndOfStream, open_camera, parse_source
from kiosk.app.service.config import CameraConfig

RECORDING = "data/recordings/pose_squats.mp4"


def _frames(n: int, size: tuple[int, int] = (32, 24)) -> list[np.ndarray]:
    return [np.full((size[1], size[0], 3), i, np.uint8) for i in range(n)]


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def test_video_replay_reads_every_frame_then_ends(shared_dir: Path) -> None:
    config = CameraConfig(replay_realtime=False, replay_loop=False)
    cam = open_camera(f"replay:{shared_dir / RECORDING}", config)
    assert isinstance(cam, VideoReplay) and cam.fps == pytest.approx(5.0) and not cam.paced
    cam.start()
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            frames.append(cam.capture(1.0))
    cam.close()
    assert len(frames) == 65
    assert frames[0].shape == (1280, 720, 3) and frames[0].dtype == np.uint8
    assert cam.timestamp == pytest.approx(64 / 5.0)  # media time of the last frame


def test_video_replay_loops(shared_dir: Path) -> None:
    cam = VideoReplay(shared_dir / RECORDING, realtime=False, loop=True)
    cam.start()
    first = cam.capture(1.0)
    for _ in range(64):
        cam.capture(1.0)
    again = cam.capture(1.0)  # frame 66 = frame 1 of the second pass
    assert cam.loops == 1
    assert np.array_equal(first, again)
    assert cam.timestamp == pytest.approx(65 / 5.0)  # media time keeps increasing across loops


def test_realtime_pacing_follows_the_recorded_rate() -> None:
    cam = ArrayReplay(_frames(4), fps=10.0, realtime=True, loop=True)
    clk = FakeClock()
    cam._clock, cam._sleep = clk.clock, clk.sleep
    cam.start()
    for _ in range(6):
        cam.capture(1.0)
    assert cam.paced
    assert clk.sleeps == pytest.approx([0.1] * 5)
    assert clk.t == pytest.approx(100.5)


def test_realtime_pacing_does_not_burst_after_a_long_pause() -> None:
    cam = ArrayReplay(_frames(4), fps=10.0, realtime=True)
    clk = FakeClock()
    cam._clock, cam._sleep = clk.clock, clk.sleep
    cam.start()
    cam.capture(1.0)
    clk.t += 5.0  # the consumer was away
    cam.capture(1.0)
    cam.capture(1.0)
    assert clk.sleeps == pytest.approx([0.1])  # the clock restarted: no catch-up burst


def test_as_fast_as_possible_never_sleeps() -> None:
    cam = ArrayReplay(_frames(3), fps=1.0, realtime=False, loop=False)
    clk = FakeClock()
    cam._clock, cam._sleep = clk.clock, clk.sleep
    got = [cam.capture(1.0)[0, 0, 0] for _ in range(3)]
    with pytest.raises(EndOfStream):
        cam.capture(1.0)
    assert got == [0, 1, 2] and clk.sleeps == []


def test_folder_replay_sorted_images(tmp_path: Path) -> None:
    for i in (2, 0, 1):
        Image.new("RGB", (40, 30), (i * 50, 0, 0)).save(tmp_path / f"img{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    cam = open_camera(f"replay:{tmp_path}", CameraConfig(replay_realtime=False, replay_loop=False))
    assert isinstance(cam, FolderReplay)
    cam.start()
    reds = [int(cam.capture(1.0)[0, 0, 0]) for _ in range(3)]
    assert reds == [0, 50, 100]
    with pytest.raises(EndOfStream):
        cam.capture(1.0)


def test_missing_and_empty_sources_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match=r"does not exist.*replay:PATH"):
        open_camera(f"replay:{tmp_path / 'nope.mp4'}", CameraConfig())
    with pytest.raises(CameraError, match="holds no images"):
        open_camera(f"replay:{tmp_path}", CameraConfig())
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(CameraError, match="cannot be read as a video"):
        open_camera(f"replay:{bad}", CameraConfig())


def test_source_strings() -> None:
    assert parse_source("webcam:2") == ("webcam", "2")
    assert parse_source("picamera2") == ("picamera2", "")
    with pytest.raises(CameraError, match="device number"):
        parse_source("webcam:x")
    with pytest.raises(CameraError, match="not a camera source"):
        parse_source("usb")


def test_webcam_without_opencv_says_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cv2", None)
    cam = open_camera("webcam:0", CameraConfig())
    with pytest.raises(CameraError, match=r"pip install '\.\[webcam\]'"):
        cam.start()
