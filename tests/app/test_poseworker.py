"""The pose worker on its own: how long it lets the grabber wait for a fresher frame."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kiosk.app.devices.camera.grabber import Grabbed
from kiosk.app.heartbeat import Heartbeats
from kiosk.app.mirror.perceive import Perceiver
from kiosk.app.poseworker import FRESH_SHARE, PoseWorker
from kiosk.app.service.config import parse_config
from kiosk.pose.fake import FakePoseModel
from tests.app.kiosk_fakes import STAND, pose_at


class AskedGrabber:
    """Hands out a new frame on every get() and records the max_wait it was given."""

    def __init__(self) -> None:
        self.max_waits: list[float] = []

    def get(self, timeout: float, max_wait: float = 0.0) -> Grabbed:
        self.max_waits.append(max_wait)
        n = len(self.max_waits)
        return Grabbed(np.zeros((48, 64, 3), np.uint8), n, float(n), captured_at=time.monotonic())


def test_the_fresh_wait_allowed_is_a_share_of_the_last_estimate() -> None:
    grabber = AskedGrabber()
    model = FakePoseModel([[pose_at(STAND)]], delay=0.05)  # an estimate takes at least 50 ms
    worker = PoseWorker(grabber, model, Perceiver(parse_config({})), mirror=False,  # type: ignore[arg-type]
                        heartbeats=Heartbeats(), fresh_share=FRESH_SHARE)
    t0 = time.monotonic()
    worker.run_once(1.0)
    first = time.monotonic() - t0
    worker.run_once(1.0)
    assert grabber.max_waits[0] == 0.0  # nothing estimated yet: take what is there
    assert FRESH_SHARE * 0.05 <= grabber.max_waits[1] <= FRESH_SHARE * first


class BoxModel:
    """A pose model twin that sees a white box: keypoints laid out in it; records where (the
    box's left edge) in every image it is given."""

    name, family, delegate, input_size = "box", "posenet", "cpu", (64, 48)

    def __init__(self) -> None:
        self.lefts: list[int] = []
        self.last_timings: dict[str, float] = {}

    def estimate(self, rgb: np.ndarray, margin: float = 0.0):
        from kiosk.pose.types import Pose

        xs = np.nonzero(rgb[..., 0].max(axis=0) > 127)[0]
        self.lefts.append(int(xs.min()))
        x = np.linspace(xs.min(), xs.max() + 1, 17)
        y = np.linspace(4.0, 44.0, 17)
        return [Pose(np.stack([x, y], axis=1).astype(np.float32), np.full(17, 0.9, np.float32), 0.9)]


class BoxGrabber(AskedGrabber):
    def get(self, timeout: float, max_wait: float = 0.0) -> Grabbed:
        grabbed = super().get(timeout, max_wait)
        grabbed.frame[:, 4:20] = 255  # a box near the left edge
        return grabbed


class RecordingPerceiver(Perceiver):
    """The real perceiver, keeping the poses each frame brought."""

    def __init__(self) -> None:
        super().__init__(parse_config({}))
        self.poses: list[list] = []

    def perceive(self, poses, frame_size, t, **kw):  # type: ignore[no-untyped-def]
        self.poses.append(list(poses))
        return super().perceive(poses, frame_size, t, **kw)


def test_cycled_flips_estimate_every_other_frame_mirrored_in_the_frames_pixels() -> None:
    from kiosk.pose.scales import ScaleCycle

    model = BoxModel()
    perceiver = RecordingPerceiver()
    worker = PoseWorker(BoxGrabber(), model, perceiver, mirror=False,  # type: ignore[arg-type]
                        heartbeats=Heartbeats(), scales=ScaleCycle((0.0,), flips=True))
    for _ in range(4):
        worker.run_once(1.0)
    assert model.lefts == [4, 64 - 20, 4, 64 - 20]  # as seen, mirrored, as seen, mirrored
    assert len(perceiver.poses) == 4
    for (pose,) in perceiver.poses:  # every pose back over the box (columns 4-19) of the frame
        assert pose.xy[:, 0].min() == pytest.approx(4.0) and pose.xy[:, 0].max() == pytest.approx(20.0)
