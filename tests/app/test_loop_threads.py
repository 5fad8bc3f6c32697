"""The decoupled loop: the display runs whatever the model does, and a hung part stops the
watchdog pings while the rest keeps running. No timing assertions: the tests count frames,
on fake clocks where time matters."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kiosk.app.devices.display.base import MemoryDisplay
from kiosk.app.heartbeat import Heartbeats, Stage
from kiosk.app.loop import MirrorLoop
from kiosk.app.service.components import LoadedModel, Overrides
from kiosk.app.service.config import KioskConfig, parse_config
from kiosk.app.service.sdnotify import Notifier
from kiosk.app.service.seams import Factories, RunOptions
from kiosk.app.service.service import KioskService
from kiosk.app.service.status import read_status
from kiosk.core.enums import ExitCode
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, BlockingModel, FakeCamera, FakeIndex, pose_at

SIZE = (320, 180)
#: The standing visitor in the fake camera's 72x128 frames.
SMALL = Pose(STAND / 10, np.full(17, 0.9, np.float32))


def _config(**camera: Any) -> KioskConfig:
    return parse_config({"camera": {"mirror": False, "capture_timeout_s": 60, **camera},
                         "display": {"max_fps": 0, "width": SIZE[0], "height": SIZE[1], "crossfade_ms": 0},
                         "status": {"interval_s": 0.05},
                         "pose": {"person_frames": 1}})  # persistence itself: tests/app/mirror


@pytest.fixture()
def index(tmp_path: Path) -> FakeIndex:
    return FakeIndex(tmp_path / "index", [pose_at(STAND)], size=(160, 180))


def _live_pixel(display: MemoryDisplay) -> tuple[int, ...]:
    frame = display.last_frame
    assert frame is not None
    return tuple(int(v) for v in frame[SIZE[1] // 2, SIZE[0] // 4])  # the middle of the live half


def test_the_display_runs_on_while_the_model_is_blocked(index: FakeIndex) -> None:
    model = BlockingModel([SMALL], free=1)
    camera = FakeCamera((72, 128), paced=True, interval=0.002, fill=True)
    display = MemoryDisplay(SIZE)
    loop = MirrorLoop(_config(), camera, model, index, display)
    loop.start()
    try:
        assert model.blocked.wait(30), "the worker never reached its second estimate"
        first = display.shown
        seqs: set[int] = set()
        pixels: set[tuple[int, ...]] = set()
        for _ in range(5000):  # a bound, not a timing: stops as soon as both counts are reached
            report = loop.step()
            seqs.add(report.camera_seq)
            pixels.add(_live_pixel(display))
            if display.shown - first >= 10 and len(seqs) >= 3 and len(pixels) >= 3:
                break
        assert model.blocked.is_set() and not model.release.is_set() and model.entered == 2
        assert loop.worker.latest is not None and loop.worker.latest.seq == 1  # still the first pose
        assert display.shown - first >= 10  # presented while the model was blocked
        assert len(seqs) >= 3 and len(pixels) >= 3  # ...and the live image kept changing
        assert report.main_pose is not None  # the last pose is still drawn
    finally:
        model.release.set()
        loop.close()


class FakeClock:
    """Service and heartbeat time: 1/60 s per presented frame."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.t

    def tick(self) -> None:
        with self.lock:
            self.t += 1 / 60


class TickingDisplay(MemoryDisplay):
    """Moves the fake clock on per presented frame; stops the kiosk (SIGTERM) `run_on` frames after
    `hung_at` is known (or after `bound` frames, whatever happened)."""

    def __init__(self, clock: FakeClock, run_on: int = 400, bound: int = 50_000) -> None:
        super().__init__(SIZE)
        self.clock = clock
        self.hung_at: list[int] = []
        self.run_on = run_on
        self.bound = bound
        self._stopping = False

    def show(self, frame: Any) -> None:
        super().show(frame)
        self.clock.tick()
        due = self.hung_at and self.shown >= self.hung_at[0] + self.run_on
        if (due or self.shown >= self.bound) and not self._stopping:
            self._stopping = True
            os.kill(os.getpid(), signal.SIGTERM)


class RecordingNotifier(Notifier):
    """Records each sd_notify message with the number of frames presented when it was sent."""

    def __init__(self, display: MemoryDisplay) -> None:
        super().__init__(use_python_systemd=False)
        self.display = display
        self.sent: list[tuple[int, str]] = []

    @property
    def enabled(self) -> bool:
        return True

    def notify(self, *fields: str) -> bool:
        self.sent.append((self.display.shown, "\n".join(fields)))
        return True

    def pings(self) -> list[int]:
        return [frame for frame, message in self.sent if message == "WATCHDOG=1"]


def _service(tmp_path: Path, index: FakeIndex, model: Any, camera: FakeCamera, clock: FakeClock,
             display: TickingDisplay, frames: int | None) -> tuple[KioskService, RecordingNotifier]:
    (tmp_path / "kiosk.yaml").write_text("")

    def make_loop(config: KioskConfig, cam: Any, mdl: Any, idx: Any, disp: Any, shots: Any) -> MirrorLoop:
        return MirrorLoop(_config(), cam, mdl, idx, disp, heartbeats=Heartbeats(clock))

    factories = Factories(load_model=lambda config: LoadedModel(model, "cpu", None),
                          open_index=lambda config, verify=False: index,
                          open_camera=lambda source, config: camera,
                          open_display=lambda config, headless: display, make_loop=make_loop)
    notifier = RecordingNotifier(display)
    options = RunOptions(config_path=tmp_path / "kiosk.yaml", max_frames=frames,
                         overrides=Overrides(status_file=str(tmp_path / "status.json")))
    return KioskService(options, factories=factories, notifier=notifier, clock=clock), notifier


@pytest.mark.parametrize("hung", ["model", "camera"])
def test_a_hung_part_stops_the_pings_while_rendering_continues(hung: str, index: FakeIndex, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # pings every 0.5 s, a stage is stale after 1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    clock = FakeClock()
    display = TickingDisplay(clock)
    hung_at = display.hung_at
    model = BlockingModel([SMALL], free=10 ** 9 if hung == "camera" else 20)
    model.on_block = lambda: hung_at.append(display.shown)

    def plan(n: int) -> str:
        if hung == "camera" and n > 20:
            if not hung_at:
                hung_at.append(display.shown)
            return "hang"
        return "ok"

    camera = FakeCamera((72, 128), paced=True, interval=0.002, fill=True, plan=plan)
    service, notifier = _service(tmp_path, index, model, camera, clock, display, frames=None)
    try:
        assert service.run() == ExitCode.OK
    finally:
        model.release.set()
        camera.release.set()
    assert hung_at, f"the {hung} never hung"
    pings = notifier.pings()
    assert display.shown >= hung_at[0] + 400  # rendering went on (SIGTERM stopped it)
    # pings while everything ran: regular ones, not only the one sent at READY (frame 0)
    assert sum(0 < frame <= hung_at[0] for frame in pings) >= 2, (hung_at, pings)
    # the stage is stale 60 frames (1 s) after its last beat; pings are due every 30 frames
    assert not [frame for frame in pings if frame > hung_at[0] + 60 + 30 + 1], (hung_at, pings)
    stage = Stage.POSE if hung == "model" else Stage.CAMERA
    # the hung stage is named (a busy machine may also let the paced fake camera fall behind the
    # fake display clock, so other stages may be named too)
    assert str(stage) in read_status(tmp_path / "status.json")["stalled"]


def test_heartbeats_name_the_quiet_stages() -> None:
    now = [0.0]
    beats = Heartbeats(lambda: now[0])
    beats.start(Stage.CAMERA, Stage.POSE, Stage.RENDER)
    now[0] = 5.0
    beats.beat(Stage.CAMERA)
    beats.beat(Stage.RENDER)
    assert beats.stale(2.0) == {Stage.POSE: 5.0}
    now[0] = 6.5
    assert set(beats.stale(2.0)) == {Stage.POSE}
    assert set(beats.stale(1.0)) == {Stage.POSE, Stage.CAMERA, Stage.RENDER}
    beats.waiting(Stage.POSE)  # waits for the camera: not its fault
    now[0] = 100.0
    assert set(beats.stale(1.0)) == {Stage.CAMERA, Stage.RENDER}
    beats.beat(Stage.POSE)  # working again: its own clock runs
    now[0] = 102.0
    assert Stage.POSE in beats.stale(1.0)


def test_a_frame_with_nothing_new_is_presented_again_not_composed(index: FakeIndex) -> None:
    model = BlockingModel([SMALL], free=1)  # one perception, then the model is stuck
    camera = FakeCamera((72, 128), plan=lambda n: "ok" if n == 1 else "hang")  # one frame, then none
    display = MemoryDisplay(SIZE)
    loop = MirrorLoop(_config(), camera, model, index, display)
    loop.start()
    try:
        assert loop.worker.wait_newer(0, 30) is not None
        reports = [loop.step() for _ in range(5)]
        assert [r.composed for r in reports] == [True, False, False, False, False]
        assert display.shown == 5  # every frame presented, the last picture again
        assert {r.camera_seq for r in reports} == {1}
    finally:
        model.release.set()
        camera.release.set()
        loop.close()
