"""The seams of `kiosk run`: what the service needs of the mirror loop (`ServedLoop`,
`StepReport`), how it makes its parts (`Factories`: tests swap in fakes) and its run options."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.app.service import components

if TYPE_CHECKING:
    from kiosk.app.devices.camera.source import CameraSource
    from kiosk.app.devices.display.base import Display
    from kiosk.app.service.config import CameraConfig, DisplayConfig, KioskConfig
    from kiosk.app.service.schedule import ScheduleGate
    from kiosk.gallery.protocol import MatchIndex
    from kiosk.pose.model import PoseModel


class StepReport(Protocol):
    """One displayed frame, as kiosk.app.loop.FrameReport tells it."""

    @property
    def state(self) -> str: ...  # the loop's state; "idle" when nobody has been seen for a while

    @property
    def shown_entry(self) -> int | None: ...  # the photo on screen

    @property
    def fading(self) -> bool: ...  # ...still fading in


class ServedLoop(Protocol):
    """What the service drives: kiosk.app.loop.MirrorLoop (tests: a scripted twin)."""

    @property
    def fps(self) -> float: ...  # frames presented per second

    @property
    def pose_rate(self) -> float: ...  # estimates per second

    @property
    def stage_errors(self) -> dict[str, int]: ...  # stage -> consecutive failures (StageHealth)

    @property
    def stage_last_error(self) -> dict[str, str]: ...  # stage -> its latest error (StageHealth reads it)

    def start(self) -> None: ...

    def step(self) -> StepReport: ...

    def pause_inference(self, paused: bool) -> None: ...  # outside opening hours

    def stale_stages(self, limit: float) -> Mapping[Any, float]: ...

    def apply(self, config: KioskConfig | None = None, index: MatchIndex | None = None) -> None: ...

    def close(self) -> None: ...


def _default_open_camera(source: str, config: CameraConfig) -> CameraSource:
    from kiosk.app.devices.camera.source import open_camera

    return open_camera(source, config)


def _default_open_display(config: DisplayConfig, headless: bool | None) -> Display:
    from kiosk.app.devices.display.base import open_display

    return open_display(config, headless=headless)


def _default_make_loop(config: KioskConfig, camera: CameraSource, model: PoseModel,
                       index: MatchIndex | None, display: Display, screenshots: Path | None) -> ServedLoop:
    from kiosk.app.loop import MirrorLoop

    return MirrorLoop(config, camera, model, index, display, screenshots=screenshots)


def _default_schedule(config: KioskConfig) -> ScheduleGate | None:
    from kiosk.app.service.schedule import gate_from_config

    return gate_from_config(config)


def _camera_exceptions() -> tuple[type[BaseException], type[BaseException]]:
    from kiosk.app.devices.camera.source import CameraFailed, EndOfStream

    return CameraFailed, EndOfStream


@dataclass
class Factories:
    """How the parts are made; tests swap in fakes."""

    load_model: Callable[[KioskConfig], components.LoadedModel] = components.load_model
    open_index: Callable[..., MatchIndex] = components.open_index
    open_camera: Callable[[str, CameraConfig], CameraSource] = _default_open_camera
    open_display: Callable[[DisplayConfig, bool | None], Display] = _default_open_display
    make_loop: Callable[..., ServedLoop] = _default_make_loop
    make_schedule: Callable[[KioskConfig], ScheduleGate | None] = _default_schedule
    camera_exceptions: Callable[[], tuple[type[BaseException], type[BaseException]]] = _camera_exceptions


@dataclass
class RunOptions:
    config_path: Path
    overrides: components.Overrides = field(default_factory=components.Overrides)
    max_frames: int | None = None
    screenshots: Path | None = None
    headless: bool | None = None
    verify_on_reload: bool = True
