"""The service under faults, in-process with fake parts: slow reloads stay off the loop, a stage
failing on every frame is reported as degraded, SIGTERM during a slow start-up ends the start."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from kiosk.app.service.config import KioskConfig
from kiosk.app.service.health import FAILING_FRAMES, StageHealth
from kiosk.core.enums import ExitCode
from tests.app.service.test_service import (
    FakeLoop,
    Harness,
    make_release,
    open_fake_index,
    point_current,
)


def test_slow_reload_runs_beside_the_loop_until_an_atomic_swap(harness: Harness) -> None:
    """The new index takes 0.6 s to open (a big sha256 pass): frames keep coming meanwhile."""
    root = harness.root
    point_current(root, make_release(root, "idx-a"))
    make_release(root, "idx-b")
    opening = threading.Event()
    seen: dict[str, Any] = {}

    def slow_open(config: KioskConfig, *, verify: bool = False) -> Any:
        if config.index_path().resolve().name == "idx-b":
            opening.set()
            time.sleep(0.6)
        return open_fake_index(config, verify=verify)

    def deploy(loop: FakeLoop) -> None:
        point_current(root, root / "releases" / "idx-b")
        os.kill(os.getpid(), signal.SIGHUP)
        seen["sighup_frame"] = loop.frames

    def during(loop: FakeLoop) -> None:
        seen["during_opening"] = opening.is_set()
        seen["during_index"] = loop.index.index_id

    harness.script.update({2: deploy, 40: during})
    service = harness.service(max_frames=None)
    service.factories.open_index = slow_open

    def stop_when_swapped(loop: FakeLoop) -> None:
        if loop.index.index_id == "idx-b":
            seen["swapped_frame"] = loop.frames
            os.kill(os.getpid(), signal.SIGTERM)
    for n in range(41, 2000):
        harness.script[n] = stop_when_swapped
    assert service.run() == ExitCode.OK
    assert seen["during_opening"] and seen["during_index"] == "idx-a"  # the old index kept serving
    assert seen["swapped_frame"] - seen["sighup_frame"] > 40
    assert harness.notify.count("WATCHDOG") >= 1
    assert harness.status()["index_id"] == "idx-b"


def test_a_stage_failing_on_every_frame_is_degraded_then_recovers(harness: Harness) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    seen: dict[str, Any] = {}

    def fail(loop: FakeLoop) -> None:
        loop.stage_errors["match"] = loop.stage_errors.get("match", 0) + 1
        loop.stage_last_error["match"] = "ValueError: crop_box is not numeric"

    for n in range(2, 3 * FAILING_FRAMES + 5):
        harness.script[n] = fail
    harness.script[3 * FAILING_FRAMES] = lambda loop: seen.setdefault("failing", harness.status())
    harness.script[3 * FAILING_FRAMES + 8] = lambda loop: seen.setdefault("recovered", harness.status())
    assert harness.service(max_frames=50).run() == ExitCode.OK
    assert seen["failing"]["state"] == "degraded"
    assert "match" in seen["failing"]["last_error"] and "crop_box" in seen["failing"]["last_error"]
    assert seen["recovered"]["state"] == "running"


@pytest.mark.parametrize(("counts", "failing"), [
    ([{"render": n} for n in range(1, 12)], ["render"]),
    ([{"render": n // 2} for n in range(1, 30)], []),      # every other frame: not every frame
    ([{"pose": 1}] * 20, []),                                # one failure long ago
])
def test_stage_health_counts_consecutive_frames(counts: list[dict[str, int]], failing: list[str]) -> None:
    health = StageHealth(threshold=10)
    for c in counts:
        health.update(c)
    assert health.failing() == failing


def test_sigterm_during_a_slow_start_ends_the_start(harness: Harness) -> None:
    """The model takes 30 s to load; SIGTERM 0.3 s in ends the process's start at once."""
    point_current(harness.root, make_release(harness.root, "idx-a"))
    service = harness.service(max_frames=None)
    slow = harness.load_model

    def slow_model(config: KioskConfig) -> Any:
        for _ in range(300):
            time.sleep(0.1)
        return slow(config)

    service.factories.load_model = slow_model
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    t0 = time.monotonic()
    assert service.run() == ExitCode.OK
    assert time.monotonic() - t0 < 10  # a bound on a hang, not a speed target
    assert harness.status()["state"] == "stopping"
    assert not harness.loops  # the loop was never started
