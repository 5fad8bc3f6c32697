"""Small helpers for the kiosk loop's unit tests: poses, a scripted model, cameras.

The model and index twins live in the package (kiosk.pose.fake, kiosk.gallery.fake)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from kiosk.app.devices.camera.source import CameraError, CameraTimeout, EndOfStream
from kiosk.gallery.fake import FakeEntry, FakeIndex, FakeMatch  # noqa: F401  (re-exported)
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.types import Pose

# A standing person in a 720x1280 frame (x, y per COCO-17 keypoint).
STAND = np.array([
    [360, 200], [375, 185], [345, 185], [390, 195], [330, 195],
    [420, 300], [300, 300], [440, 420], [280, 420], [450, 530], [270, 530],
    [400, 600], [320, 600], [405, 800], [315, 800], [410, 1000], [310, 1000],
], dtype=np.float32)


def pose_at(xy: np.ndarray, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0,
            score: float = 0.9) -> Pose:
    xy = np.asarray(xy, dtype=np.float32)
    c = xy.mean(axis=0)
    return Pose((xy - c) * scale + c + np.array([dx, dy], np.float32), np.full(17, score, np.float32))


def squat(depth: float) -> np.ndarray:
    """STAND with hips and shoulders lowered and knees out by depth in [0, 1]."""
    xy = STAND.copy()
    xy[:13, 1] += 250 * depth
    xy[13:15, 0] += np.array([80, -80]) * depth
    xy[13:15, 1] += 80 * depth
    return xy


def arms_up() -> np.ndarray:
    xy = STAND.copy()
    xy[7:11, 1] = [180, 180, 60, 60]
    xy[7:11, 0] = [470, 250, 480, 240]
    return xy


def ScriptedModel(poses_for: Callable[[int, np.ndarray], list[Pose]], delay: float = 0.01) -> FakePoseModel:
    """A FakePoseModel whose estimate() returns poses_for(call number from 1, frame).

    delay: like a model's invoke, so the photo loader gets time meanwhile."""
    calls = [0]

    def script(rgb: np.ndarray) -> list[Pose]:
        calls[0] += 1
        return list(poses_for(calls[0], rgb))

    return FakePoseModel(script, name="scripted", family="fake", delay=delay)


class FakeCamera:
    """Frames numbered in their pixels (frame[0, 0, 0] = n % 256); scripted failures and stalls.

    plan(n) for capture number n may return "ok", "fail", "stall" (sleep past the timeout and
    raise CameraTimeout) or "end" (EndOfStream)."""

    def __init__(self, size: tuple[int, int] = (720, 1280), *, paced: bool = True, interval: float = 0.0,
                 plan: Callable[[int], str] | None = None, name: str = "fake", fill: bool = False) -> None:
        self.name = name
        self.fill = fill  # the number in every pixel, not only the first (a live image that changes)
        self.paced = paced
        self.timestamp: float | None = None
        self.fps: float | None = None
        self.size = size
        self.interval = interval
        self.plan = plan or (lambda n: "ok")
        self.captures = 0
        self.started = self.closed = False
        self.lock = threading.Lock()
        self.release = threading.Event()

    def start(self) -> None:
        self.started = True

    def capture(self, timeout: float) -> np.ndarray:
        with self.lock:
            self.captures += 1
            n = self.captures
        what = self.plan(n)
        if what == "end":
            raise EndOfStream("fake: end")
        if what == "fail":
            raise CameraError(f"fake: capture {n} failed")
        if what == "hold":  # wait until released (a camera with nothing new to say)
            self.release.wait(5.0)
        if what == "hang":  # stuck inside capture until released, whatever the timeout
            self.release.wait(60.0)
        if what == "stall":
            time.sleep(timeout)
            raise CameraTimeout(f"fake: no frame within {timeout} s")
        if self.interval:
            time.sleep(self.interval)
        w, h = self.size
        frame = np.zeros((h, w, 3), np.uint8)
        if self.fill:
            frame[..., 0], frame[..., 1] = n % 256, (n // 256) % 256
        frame[0, 0, 0] = n % 256
        frame[0, 0, 1] = (n // 256) % 256
        return frame

    def close(self) -> None:
        self.closed = True


def frame_number(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


class BlockingModel(FakePoseModel):
    """Returns `poses` at once for the first `free` estimates, then blocks inside estimate() until
    `release` is set (a hung or very slow model); `blocked` is set once it is stuck."""

    def __init__(self, poses: list[Pose], free: int = 1) -> None:
        super().__init__(self._script, name="blocking", family="fake", delay=0.0)
        self.poses = poses
        self.free = free
        self.entered = 0  # estimate() calls begun (FakePoseModel.calls counts the finished ones)
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.on_block: Callable[[], None] = lambda: None

    def _script(self, rgb: np.ndarray) -> list[Pose]:
        self.entered += 1
        if self.entered > self.free and not self.release.is_set():
            self.on_block()
            self.blocked.set()
            self.release.wait(60.0)
        return list(self.poses)


class FrameClock:
    """A display clock that moves on `step` seconds each time it is read (the renderer reads it
    once per presented frame): crossfades counted in frames, whatever the machine's speed."""

    def __init__(self, step: float = 1 / 60) -> None:
        self.step = step
        self.t = 0.0

    def __call__(self) -> float:
        self.t += self.step
        return self.t
