"""The pose worker on its own: how long it lets the grabber wait for a fresher frame."""

from __future__ import annotations

import time

import numpy as np

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
