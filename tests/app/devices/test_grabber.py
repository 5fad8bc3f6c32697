"""The grabber: newest frame only, demand-driven replays, failure counting."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from kiosk.app.devices.camera.grabber import FRESH_SLACK, FrameGrabber, fresh_wait
from kiosk.app.devices.camera.source import CameraFailed, EndOfStream
from tests.app.kiosk_fakes import FakeCamera, frame_number


def _grabber(cam: FakeCamera, *, timeout: float = 0.2, max_failures: int = 3) -> FrameGrabber:
    g = FrameGrabber(cam, timeout=timeout, max_failures=max_failures)
    g.start()
    return g


def test_slow_consumer_gets_the_newest_frame_not_a_queue() -> None:
    cam = FakeCamera(size=(8, 6), paced=True, plan=lambda n: "ok" if n <= 10 or n > 11 else "hold")
    g = _grabber(cam, timeout=5.0)
    try:
        deadline = time.monotonic() + 10
        while g.captured < 10 and time.monotonic() < deadline:  # the camera runs ahead of the loop
            time.sleep(0.01)
        got = g.get(1.0)
        assert got is not None and got.seq == 10 and frame_number(got.frame) == 10  # the newest
        assert g.dropped == 9  # frames 1..9 were replaced, never queued
        assert g.get(0.05) is None  # frame 11 is not there yet
        cam.release.set()
        nxt = g.get(5.0)
        assert nxt is not None and nxt.seq > 10
    finally:
        g.stop()
    assert g.failures == 0


def test_the_same_frame_is_never_returned_twice() -> None:
    cam = FakeCamera(size=(8, 6), paced=True, interval=0.05)
    g = _grabber(cam)
    try:
        a = g.get(1.0)
        b = g.get(1.0)
        assert a is not None and b is not None and b.seq > a.seq
        assert g.get(0.0) is None  # nothing new yet
    finally:
        g.stop()


def test_unpaced_source_is_read_on_demand_every_frame_in_order() -> None:
    cam = FakeCamera(size=(8, 6), paced=False, plan=lambda n: "ok" if n <= 20 else "end")
    g = _grabber(cam)
    got = []
    with pytest.raises(EndOfStream):
        while True:
            time.sleep(0.001)
            f = g.get(1.0)
            assert f is not None
            got.append(frame_number(f.frame))
    g.stop()
    assert got == list(range(1, 21))
    assert g.dropped == 0


def test_failures_below_the_limit_are_survived_and_reset(caplog: pytest.LogCaptureFixture) -> None:
    plan = {2: "fail", 3: "fail", 5: "fail", 6: "fail"}
    cam = FakeCamera(size=(8, 6), paced=False, plan=lambda n: plan.get(n, "ok") if n <= 8 else "end")
    g = _grabber(cam, max_failures=3)
    with caplog.at_level(logging.WARNING):
        got = []
        with pytest.raises(EndOfStream):
            while True:
                f = g.get(2.0)
                if f is not None:
                    got.append(frame_number(f.frame))
    g.stop()
    assert got == [1, 4, 7, 8]
    assert g.total_failures == 4 and g.failures == 0
    assert "capture failed (2 of 3 in a row)" in caplog.text


def test_consecutive_failures_raise_camera_failed(caplog: pytest.LogCaptureFixture) -> None:
    cam = FakeCamera(size=(8, 6), paced=True, plan=lambda n: "ok" if n == 1 else "fail", name="cam0")
    g = _grabber(cam, max_failures=4)
    with caplog.at_level(logging.WARNING):
        assert g.get(1.0) is not None
        with pytest.raises(CameraFailed, match="cam0: 4 consecutive capture failures"):
            for _ in range(50):
                g.get(1.0)
    g.stop()
    assert g.failures == 4
    assert any(r.levelno == logging.ERROR and "systemd restarts it" in r.getMessage() for r in caplog.records)


def test_a_stalled_camera_counts_as_failures() -> None:
    cam = FakeCamera(size=(8, 6), paced=True, plan=lambda n: "stall")
    g = _grabber(cam, timeout=0.05, max_failures=3)
    t0 = time.monotonic()
    with pytest.raises(CameraFailed, match="CameraTimeout"):
        for _ in range(100):
            assert g.get(0.5) is None
    assert time.monotonic() - t0 < 5
    g.stop()


def test_camera_errors_at_start_are_raised_at_once() -> None:
    from kiosk.app.devices.camera.source import CameraError

    class Broken(FakeCamera):
        def start(self) -> None:
            raise CameraError("no camera here")

    g = FrameGrabber(Broken(), timeout=0.1, max_failures=2)
    with pytest.raises(CameraError, match="no camera here"):
        g.start()


def test_a_source_stuck_inside_capture_is_given_up_on(caplog: pytest.LogCaptureFixture) -> None:
    cam = FakeCamera(size=(8, 6), paced=True, plan=lambda n: "ok" if n == 1 else "hold", name="stuck")
    g = _grabber(cam, timeout=0.05, max_failures=2)  # the source ignores the timeout: "hold" blocks
    assert g.get(1.0) is not None
    with caplog.at_level(logging.ERROR), pytest.raises(CameraFailed, match=r"stuck: no frame for"):
        for _ in range(100):
            assert g.get(0.05) is None
    assert "systemd restarts it" in caplog.text
    cam.release.set()
    g.stop()


@pytest.mark.parametrize(("age", "interval", "wait"), [
    (0.010, 0.033, 0.0),  # fresher than the wait for the next one: take it
    (0.020, 0.033, 0.013 + 0.033 * FRESH_SLACK),  # the next one is due in 13 ms: wait for it
    (0.0165, 0.033, 0.0),  # exactly half way: take it
    (0.040, 0.033, 0.0),  # the next one is late already: take this one
    (0.020, None, 0.0),  # the camera's interval is not known yet
])
def test_fresh_wait(age: float, interval: float | None, wait: float) -> None:
    assert fresh_wait(age, interval) == pytest.approx(wait)


@pytest.mark.parametrize(("max_wait", "wait"),
                         [(0.014, 0.013 + 0.033 * FRESH_SLACK), (0.012, 0.0), (0.0, 0.0)])
def test_fresh_wait_stays_within_what_the_consumer_allows(max_wait: float, wait: float) -> None:
    assert fresh_wait(0.020, 0.033, max_wait) == pytest.approx(wait)  # the next frame is due in 13 ms


@pytest.mark.parametrize(("interval", "max_wait", "expected_seq"), [
    (0.7, 1.0, 2),  # frame 1 is 0.4 s old, frame 2 due in 0.3 s: it is waited for
    (5.0, 1.0, 1),  # frame 2 is due in 4.6 s: frame 1 is fresh enough
    (0.7, 0.1, 1),  # the consumer allows 0.1 s: not worth waiting 0.3 s
    (0.7, 0.0, 1),  # the serial loop (the default) takes what is there
])
def test_a_fresh_grabber_waits_for_a_frame_due_sooner_than_the_newest_is_old(
        interval: float, max_wait: float, expected_seq: int) -> None:
    second, done = threading.Event(), threading.Event()

    def plan(n: int) -> str:  # frame 1 at once, frame 2 when the test says, then nothing
        (second if n == 2 else done).wait(5.0) if n > 1 else None
        return "ok"

    cam = FakeCamera(size=(8, 6), paced=True, plan=plan)
    g = FrameGrabber(cam, timeout=5.0, max_failures=3)
    g.start()
    try:
        while g.captured < 1:
            time.sleep(0.01)
        time.sleep(0.4)
        g.interval = interval
        threading.Timer(0.05, second.set).start()  # frame 2 comes 50 ms after the get
        got = g.get(1.0, max_wait)
        assert got is not None and got.seq == expected_seq
    finally:
        second.set()
        done.set()
        g.stop()
