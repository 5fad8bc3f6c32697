"""kiosk.app.service.service in-process, with fake parts: start-up, reload, degraded start, exits."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.app.service.components import LoadedModel, Overrides
from kiosk.app.service.config import KioskConfig
from kiosk.app.service.sdnotify import Notifier
from kiosk.app.service.seams import Factories, RunOptions
from kiosk.app.service.service import KioskService
from kiosk.app.service.status import read_status
from kiosk.core.enums import ExitCode
from kiosk.gallery.fake import FakeIndex
from tests.app.notify_helpers import NotifySocket


class FakeCameraFailed(Exception):
    pass


class FakeEnd(Exception):
    pass


@dataclass
class Report:
    state: str = "running"
    shown_entry: int | None = None
    fading: bool = False


@dataclass
class FakeLoop:
    config: KioskConfig
    index: Any
    script: dict[int, Callable[[FakeLoop], Any]] = field(default_factory=dict)
    frames: int = 0
    applied: list[tuple[Any, Any]] = field(default_factory=list)
    closed: bool = False
    started: bool = False
    fps: float = 12.5
    pose_rate: float = 4.0
    stage_errors: dict[str, int] = field(default_factory=dict)
    stage_last_error: dict[str, str] = field(default_factory=dict)
    #: frames from which a stage reports no progress (stage -> first frame), and the fake clock
    stalls: dict[str, int] = field(default_factory=dict)
    clock: list[float] = field(default_factory=lambda: [0.0])
    paused: list[bool] = field(default_factory=list)  # pause_inference calls (opening hours)

    def start(self) -> None:
        self.started = True

    def pause_inference(self, paused: bool) -> None:
        self.paused.append(paused)

    def stale_stages(self, limit: float) -> dict[str, float]:
        return {stage: limit + 1.0 for stage, first in self.stalls.items() if self.frames >= first}

    def step(self) -> Report:
        time.sleep(0.002)  # reloads run in a background thread: give it time between frames
        self.clock[0] += 0.1  # each frame is 100 ms on the service's clock
        self.frames += 1
        if self.frames > 2000:  # a safety net: a broken test ends instead of hanging
            raise FakeEnd("the fake loop ran too long")
        action = self.script.get(self.frames)
        if action is not None:
            result = action(self)
            if isinstance(result, BaseException):
                raise result
            if isinstance(result, Report):
                return result
        return Report()

    def apply(self, config: KioskConfig | None = None, index: Any = None) -> None:
        self.applied.append((config, index))
        self.config = config or self.config
        self.index = index

    def close(self) -> None:
        self.closed = True


def open_fake_index(config: KioskConfig, *, verify: bool = False) -> FakeIndex:
    path = config.index_path().resolve()
    marker = path / "INDEX_ID"
    if not marker.is_file():
        raise FileNotFoundError(f"no index at {path}")
    index_id = marker.read_text().strip()
    if index_id == "broken":
        raise ValueError(f"index {path}: manifest.json is corrupt")
    index = FakeIndex(path, [], index_id=index_id)
    model = path / "MODEL"
    index.model_name = model.read_text().strip() if model.is_file() else None
    return index


def make_release(root: Path, index_id: str) -> Path:
    release = root / "releases" / index_id
    release.mkdir(parents=True)
    (release / "INDEX_ID").write_text(index_id)
    return release


def point_current(root: Path, release: Path) -> None:
    tmp = root / "current.tmp"
    tmp.symlink_to(release)
    os.replace(tmp, root / "current")


class Harness:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "index"
        self.config_file = tmp_path / "kiosk.yaml"
        self.status_file = tmp_path / "run" / "status.json"
        self.write_config("display:\n  layout: side_by_side\n")
        self.loops: list[FakeLoop] = []
        self.script: dict[int, Callable[[FakeLoop], Any]] = {}
        self.stalls: dict[str, int] = {}
        self.clock = [0.0]
        self.notify = NotifySocket(tmp_path)
        monkeypatch.setenv("NOTIFY_SOCKET", str(self.notify.path))
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        self.model_delegate = "cpu"
        self.loaded_models: list[str] = []

    def write_config(self, text: str) -> None:
        self.config_file.write_text(f"index:\n  path: {self.root / 'current'}\n{text}")

    def make_loop(self, config: KioskConfig, camera: Any, model: Any, index: Any, display: Any,
                  screenshots: Path | None) -> FakeLoop:
        loop = FakeLoop(config, index, self.script, stalls=dict(self.stalls), clock=self.clock)
        self.loops.append(loop)
        return loop

    def load_model(self, config: KioskConfig) -> LoadedModel:
        self.loaded_models.append(config.model.name)
        model = type("M", (), {"name": config.model.name, "delegate": self.model_delegate})()
        warning = None if self.model_delegate == "edgetpu" or config.model.delegate != "edgetpu" else "cpu!"
        return LoadedModel(model, self.model_delegate, warning)

    def service(self, max_frames: int | None = 50) -> KioskService:
        factories = Factories(load_model=self.load_model, open_index=open_fake_index,
                              open_camera=lambda source, config: object(),
                              open_display=lambda config, headless: object(), make_loop=self.make_loop,
                              camera_exceptions=lambda: (FakeCameraFailed, FakeEnd))
        options = RunOptions(config_path=self.config_file, max_frames=max_frames,
                             overrides=Overrides(status_file=str(self.status_file)))
        return KioskService(options, factories=factories, notifier=Notifier(use_python_systemd=False),
                            clock=lambda: self.clock[0])

    def status(self) -> dict[str, Any]:
        return read_status(self.status_file)


@pytest.fixture()
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    h = Harness(tmp_path, monkeypatch)
    yield h
    h.notify.close()


def test_runs_and_notifies(harness: Harness) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    assert harness.service(max_frames=5).run() == ExitCode.OK
    harness.notify.drain(0.2)
    keys = [next(iter(m)) for m in harness.notify.messages]
    assert "READY" in keys and "STOPPING" in keys
    assert keys.index("READY") < keys.index("STOPPING")
    assert harness.notify.count("WATCHDOG") >= 1
    status = harness.status()
    assert status["state"] == "stopping"
    assert status["index_id"] == "idx-a"
    assert status["frames"] == 5
    assert status["delegate"] == "cpu"
    assert harness.loops[0].closed


def test_sigterm_stops_cleanly(harness: Harness) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    harness.script[3] = lambda loop: os.kill(os.getpid(), signal.SIGTERM)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    assert harness.service(max_frames=None).run() == ExitCode.OK
    assert harness.loops[0].frames == 3
    assert harness.loops[0].closed
    assert {sig: signal.getsignal(sig) for sig in before} == before  # handlers restored
    harness.notify.wait_for("STOPPING", timeout=5)



def in_turn(harness: Harness, *actions: Callable[[FakeLoop], Any], start: int = 2) -> None:
    """Script actions[i] on the first frame from `start` on where i reloads have finished (the
    reload runs in a background thread: frames are no clock for it)."""
    def make(i: int) -> Callable[[FakeLoop], Any]:
        def run(loop: FakeLoop) -> Any:
            if harness.status().get("reload_generation", 0) < i:
                harness.script[loop.frames + 1] = run
                return None
            if i + 1 < len(actions):
                harness.script[loop.frames + 1] = make(i + 1)
            return actions[i](loop)
        return run
    harness.script[start] = make(0)


def status_then_stop(harness: Harness, seen: dict[str, Any], key: str) -> Callable[[FakeLoop], None]:
    """A scripted action: keep the status file's content as seen[key], then SIGTERM."""
    def act(loop: FakeLoop) -> None:
        seen[key] = harness.status()
        os.kill(os.getpid(), signal.SIGTERM)
    return act


def test_reload_switches_index_and_refuses_bad_ones(harness: Harness) -> None:
    root = harness.root
    point_current(root, make_release(root, "idx-a"))
    make_release(root, "idx-b")
    make_release(root, "broken")
    seen: dict[str, Any] = {}

    def switch_to_b(loop: FakeLoop) -> None:
        point_current(root, root / "releases" / "idx-b")
        os.kill(os.getpid(), signal.SIGHUP)

    def bad_config(loop: FakeLoop) -> None:
        seen["after_b"] = harness.status()
        harness.write_config("display:\n  layout: grid\n")
        os.kill(os.getpid(), signal.SIGHUP)

    def bad_index(loop: FakeLoop) -> None:
        seen["after_bad_config"] = harness.status()
        harness.write_config("display:\n  layout: full_mirror\n")
        point_current(root, root / "releases" / "broken")
        os.kill(os.getpid(), signal.SIGHUP)

    in_turn(harness, switch_to_b, bad_config, bad_index, status_then_stop(harness, seen, "after_bad_index"))
    assert harness.service(max_frames=None).run() == ExitCode.OK
    loop = harness.loops[0]

    assert seen["after_b"]["index_id"] == "idx-b"
    assert seen["after_b"]["state"] == "running"
    assert seen["after_b"]["last_error"] is None
    assert (seen["after_b"]["reload_generation"], seen["after_b"]["reload_outcome"]) == (1, "applied")
    assert len(loop.applied) == 1  # the two refused reloads never reached the loop
    assert loop.index.index_id == "idx-b"
    assert loop.config.display.layout == "side_by_side"

    assert seen["after_bad_config"]["state"] == "running"
    assert seen["after_bad_config"]["index_id"] == "idx-b"
    assert "display.layout" in seen["after_bad_config"]["last_error"]
    assert "reload refused" in seen["after_bad_config"]["last_error"]
    assert (seen["after_bad_config"]["reload_generation"],
            seen["after_bad_config"]["reload_outcome"]) == (2, "refused")

    assert seen["after_bad_index"]["index_id"] == "idx-b"
    assert "corrupt" in seen["after_bad_index"]["last_error"]
    assert (seen["after_bad_index"]["reload_generation"],
            seen["after_bad_index"]["reload_outcome"]) == (3, "refused")

    harness.notify.drain(0.2)
    reloading = [i for i, m in enumerate(harness.notify.messages) if "RELOADING" in m]
    assert len(reloading) == 3
    for i in reloading:
        assert "MONOTONIC_USEC" in harness.notify.messages[i]
        harness.notify.wait_for("READY", after=i + 1, timeout=1)


def test_missing_index_is_degraded_until_a_deploy(harness: Harness) -> None:
    root = harness.root
    seen: dict[str, Any] = {}

    def deploy(loop: FakeLoop) -> None:
        seen["before"] = harness.status()
        point_current(root, make_release(root, "idx-new"))
        os.kill(os.getpid(), signal.SIGHUP)

    in_turn(harness, deploy, status_then_stop(harness, seen, "after"))
    assert harness.service(max_frames=None).run() == ExitCode.OK
    assert seen["before"]["state"] == "degraded"
    assert seen["before"]["index_id"] is None
    assert "no usable index" in seen["before"]["last_error"]
    assert seen["after"]["state"] == "running"
    assert seen["after"]["index_id"] == "idx-new"
    assert seen["after"]["last_error"] is None


def test_idle_state_is_reported(harness: Harness) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    seen = {}
    harness.script.update({2: lambda loop: Report("idle"),
                           3: lambda loop: seen.setdefault("idle", harness.status())})
    assert harness.service(max_frames=3).run() == ExitCode.OK
    assert seen["idle"]["state"] == "idle"


def test_camera_failed_exits_non_zero(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    harness.script[3] = lambda loop: FakeCameraFailed("5 captures in a row failed")
    assert harness.service(max_frames=None).run() == ExitCode.FAILURE
    assert any("camera gave up" in r.message for r in caplog.records)
    assert "camera gave up" in harness.status()["last_error"]


def test_end_of_stream_exits_zero(harness: Harness) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    harness.script[4] = lambda loop: FakeEnd()
    assert harness.service(max_frames=None).run() == ExitCode.OK
    assert harness.status()["frames"] == 3


def test_bad_config_at_start_exits_2(harness: Harness) -> None:
    harness.write_config("camera:\n  source: usb\n")
    assert harness.service().run() == ExitCode.USAGE
    assert "camera.source" in harness.status()["last_error"]
    assert harness.loops == []


@pytest.mark.parametrize("stage", ["pose", "camera", "render"])
def test_a_stage_without_progress_stops_the_pings_while_frames_go_on(harness: Harness, stage: str) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    harness.stalls[stage] = 40  # from frame 40 on (4 s on the fake clock; pings due every 1 s)
    seen: dict[str, Any] = {}
    harness.script[39] = lambda loop: seen.setdefault("pings", harness.notify.drain(0.2) or
                                                      harness.notify.count("WATCHDOG"))
    harness.script[60] = lambda loop: seen.setdefault("stalled", harness.status())
    assert harness.service(max_frames=100).run() == ExitCode.OK
    assert harness.loops[0].frames == 100  # the loop kept running
    harness.notify.drain(0.2)
    assert seen["pings"] >= 3
    assert harness.notify.count("WATCHDOG") == seen["pings"]  # none after the stage went quiet
    assert seen["stalled"]["stalled"] == [stage]
    assert stage in seen["stalled"]["last_error"] and "watchdog" in seen["stalled"]["last_error"]


def test_an_unexpected_loop_error_exits_1(harness: Harness) -> None:
    point_current(harness.root, make_release(harness.root, "idx-a"))
    harness.script[2] = lambda loop: ZeroDivisionError("bug")
    assert harness.service(max_frames=None).run() == ExitCode.FAILURE
    status = harness.status()
    assert status["state"] == "stopping"
    assert "ZeroDivisionError" in status["last_error"]
    harness.notify.wait_for("STOPPING", timeout=5)


def test_the_kiosk_runs_the_model_the_index_was_built_with(harness: Harness) -> None:
    release = make_release(harness.root, "idx-a")
    (release / "MODEL").write_text("posenet-481x641")
    point_current(harness.root, release)
    assert harness.service(max_frames=3).run() == ExitCode.OK
    assert harness.loaded_models == ["posenet-481x641"]  # model.name is empty by default
    status = harness.status()
    assert status["model"] == "posenet-481x641" and status["index_model"] == "posenet-481x641"
    assert status["model_mismatch"] is None


def test_a_model_that_does_not_fit_the_index_is_reported(harness: Harness) -> None:
    release = make_release(harness.root, "idx-a")
    (release / "MODEL").write_text("posenet-481x641")
    point_current(harness.root, release)
    harness.write_config("model:\n  name: movenet-lightning\n")
    assert harness.service(max_frames=3).run() == ExitCode.OK
    assert harness.loaded_models == ["movenet-lightning"]  # as told...
    status = harness.status()
    assert "posenet-481x641" in status["model_mismatch"]  # ...and said
    assert "movenet-lightning" in status["model_mismatch"]


def test_a_deployed_index_of_another_model_asks_for_a_restart(harness: Harness) -> None:
    root = harness.root
    point_current(root, make_release(root, "idx-a"))
    other = make_release(root, "idx-b")
    (other / "MODEL").write_text("posenet-481x641")
    harness.write_config("model:\n  name: movenet-lightning\n")
    seen: dict[str, Any] = {}

    def deploy(loop: FakeLoop) -> None:
        point_current(root, other)
        os.kill(os.getpid(), signal.SIGHUP)

    in_turn(harness, deploy, status_then_stop(harness, seen, "after"))
    assert harness.service(max_frames=None).run() == ExitCode.OK
    assert seen["after"]["index_id"] == "idx-b"
    assert "posenet-481x641" in seen["after"]["model_mismatch"]
