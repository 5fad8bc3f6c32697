"""`kiosk run`: the service shell around the mirror loop.

Start-up: load and validate the config, apply the command-line overrides, load the pose model
(`auto` without an Edge TPU runs on the CPU), open the index (missing or bad: state `degraded`,
the "no index" screen, and keep running so a deploy can fix it), the camera and the display;
then `MirrorLoop.start()` (camera, pose worker), READY, and `MirrorLoop.step()` (one displayed
frame) in the main thread until told to stop. With model.name empty the model is the one the
index was built with (modelchoice.py); a mismatch is logged and in the status.

Signals (handlers only set flags; the work happens between frames):
    SIGHUP           RELOADING; a background thread (reloader.py) re-reads the config file and
                     opens and verifies the index (re-resolving the `current` symlink) while the
                     loop keeps showing the old one and pinging the watchdog; the swap happens
                     between two frames. A bad config or index is refused with a logged reason and
                     status `last_error`, and the kiosk keeps running the old; then READY.
    SIGTERM, SIGINT  STOPPING, clean close, exit 0 (during start-up too: the start is abandoned).

A stage (pose, match, render) failing on every frame for health.FAILING_FRAMES frames makes the
state `degraded` with the reason in `last_error` until it recovers.

WATCHDOG pings are sent after a displayed frame, and only while every stage of the loop (camera,
pose worker, render) has made progress within the watchdog interval (`loop.stale_stages`,
watchdog.py): a hung model, a camera stuck in capture or a stuck render loop each stop the pings
even while the rest keeps running, and systemd restarts the kiosk. The stale stages are named in
the log and the status file (`stalled`). Exit codes: 0 clean stop (signal, --max-frames, end of
a non-looping replay), 1 runtime failure (camera gave up, model failed to load, unexpected
error), 2 bad config.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from kiosk.app.service import components, reloader, screenshot, telemetry
from kiosk.app.service.config import ConfigError, KioskConfig, load_served_config
from kiosk.app.service.health import StageHealth
from kiosk.app.service.modelchoice import ModelChoice, after_reload, choose_model
from kiosk.app.service.sdnotify import Notifier, watchdog_interval
from kiosk.app.service.seams import Factories, RunOptions, ServedLoop, StepReport
from kiosk.app.service.status import KioskStatus, write_status
from kiosk.app.service.watchdog import Watchdog
from kiosk.core.enums import ExitCode, ReloadOutcome, ServiceState

if TYPE_CHECKING:
    from kiosk.app.devices.camera.source import CameraSource
    from kiosk.app.devices.display.base import Display
    from kiosk.app.service.schedule import ScheduleGate
    from kiosk.gallery.protocol import MatchIndex
    from kiosk.pose.model import PoseModel

log = logging.getLogger(__name__)



def _shown(report: StepReport) -> str | None:
    """What the report says is on screen: `entry33`, `entry33 (fading in)`, or the state."""
    if report.shown_entry is None:
        return str(report.state) or None
    return f"entry{report.shown_entry}" + (" (fading in)" if report.fading else "")


class StopRequested(BaseException):  # not an Exception: no `except Exception` may swallow it
    """SIGTERM/SIGINT arrived while the kiosk was still starting: abandon the start."""


class KioskService:
    def __init__(self, options: RunOptions, *, factories: Factories | None = None,
                 notifier: Notifier | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.factories = factories or Factories()
        self.notifier = notifier or Notifier()
        self.config: KioskConfig | None = None
        self.status = KioskStatus(config_path=str(options.config_path))
        self.index: MatchIndex | None = None
        self.index_dir: Path | None = None
        self.loop: ServedLoop | None = None
        self._camera: CameraSource | None = None
        self._display: Display | None = None
        self._stop_signal: int | None = None
        self._reload_requested = False
        self._last_status = 0.0
        self._watchdog = Watchdog(self.notifier, watchdog_interval(), clock)
        self._reloader = reloader.Reloader()
        self._health = StageHealth()
        self._serving = False
        self.telemetry: telemetry.Telemetry | None = None
        self.schedule: ScheduleGate | None = None

    # ---- signals ----------------------------------------------------------------------
    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_signal = signum
        if not self._serving:  # a long start-up step must not delay the stop
            raise StopRequested(signal.Signals(signum).name)

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload_requested = True

    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for sig, handler in ((signal.SIGTERM, self._on_stop), (signal.SIGINT, self._on_stop),
                             (signal.SIGHUP, self._on_hup)):
            previous[sig] = signal.signal(sig, handler)
        return previous

    # ---- status -----------------------------------------------------------------------
    def _status_path(self) -> Path:
        if self.config is not None:
            return self.config.status_path()
        if self.options.overrides.status_file:
            return Path(self.options.overrides.status_file)
        return KioskConfig().status_path()

    def _write_status(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.status, key, value)
        if self.loop is not None:
            self.status.fps = float(self.loop.fps or 0.0)
            self.status.pose_rate = float(self.loop.pose_rate or 0.0)
        path = self._status_path()
        try:
            write_status(path, self.status)
        except OSError as exc:
            log.warning("cannot write the status file %s (%s); check status.path and the runtime "
                        "directory's permissions", path, exc)
        self._last_status = time.monotonic()

    def _status_text(self) -> str:
        s = self.status
        index = s.index_id or "no index"
        return f"{s.state}: index {index}, {s.model} on {s.delegate}, {s.fps:.1f} fps"

    def _error(self, message: str) -> None:
        log.error("%s", message)
        self.status.last_error = message

    # ---- main -------------------------------------------------------------------------
    def run(self) -> int:
        previous = self._install_signals()
        try:
            return self._run()
        except StopRequested as exc:
            log.info("stopping on %s during start-up", exc)
            self._serving = True  # a second signal while closing must not raise again
            return self._stop(ExitCode.OK)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> int:
        try:
            self.config, self.status.deployed_config = load_served_config(
                self.options.config_path, self.options.overrides.apply)
        except ConfigError as exc:
            self._error(f"cannot start: {exc}\nfix the file (kiosk config check "
                        f"{self.options.config_path}) and restart")
            self._write_status(state=ServiceState.STOPPING)
            return ExitCode.USAGE
        config = self.config
        self.status.source = config.camera.source
        self._open_first_index(config)
        choice = choose_model(config.model.name, self._index_model(self.index))
        self._note_model_choice(choice)
        self._write_status(state=ServiceState.STARTING, model=choice.name)
        self.notifier.status("starting: loading the pose model")
        try:
            loaded = self.factories.load_model(replace(config, model=replace(config.model, name=choice.name)))
        except Exception as exc:
            self._error(f"cannot load the pose model {choice.name!r}: {exc}; check model.name "
                        "and that the models are fetched (kiosk models fetch, kiosk doctor)")
            self._write_status(state=ServiceState.STOPPING)
            return ExitCode.FAILURE
        self.status.model = str(loaded.model.name)
        self.status.delegate = loaded.delegate
        if loaded.warning and self.status.last_error is None:
            self.status.last_error = loaded.warning
        try:
            return self._serve(config, loaded.model)
        finally:
            self._close()

    @staticmethod
    def _index_model(index: MatchIndex | None) -> str | None:
        return None if index is None else index.model_name

    def _note_model_choice(self, choice: ModelChoice) -> None:
        self.status.index_model = choice.index_model
        self.status.model_mismatch = choice.mismatch
        if choice.mismatch:
            log.warning("%s", choice.mismatch)
        elif choice.index_model:
            log.info("pose model %s (the index was built with %s)", choice.name, choice.index_model)

    def _open_first_index(self, config: KioskConfig) -> None:
        self._expire_activation()
        try:
            self.index = self.factories.open_index(config)
            self.index_dir = components.resolve_index_dir(config)
        except Exception as exc:
            self.index = None
            self._error(f"no usable index at {config.index_path()}: {exc}. Showing the 'no index' "
                        "screen; deploy an index (scripts/deploy.sh) and reload (systemctl reload "
                        "move-mirror)")
        index_id, index_path = components.describe_index(self.index)
        self.status.index_id, self.status.index_path = index_id, index_path
        if self.index is not None:
            log.info("index %s loaded from %s", index_id, index_path)

    def _serve(self, config: KioskConfig, model: PoseModel) -> int:
        camera_failed, end_of_stream = self.factories.camera_exceptions()
        try:
            self._camera = camera = self.factories.open_camera(config.camera.source, config.camera)
            self._display = display = self.factories.open_display(config.display, self.options.headless)
            self.loop = loop = self.factories.make_loop(config, camera, model, self.index, display,
                                                        self.options.screenshots)
            loop.start()
        except Exception as exc:
            self._error(f"cannot start the kiosk: {exc}")
            self._write_status(state=ServiceState.STOPPING)
            return ExitCode.FAILURE
        self._serving = True
        if self._stop_signal is not None:
            raise StopRequested(signal.Signals(self._stop_signal).name)
        self._write_status(state=ServiceState.DEGRADED if self.index is None else ServiceState.RUNNING)
        self.telemetry = telemetry.from_config(config)
        self.schedule = self.factories.make_schedule(config)
        self.notifier.ready(self._status_text())
        log.info("kiosk running: %s", self._status_text())
        self._ping(force=True)
        frames = 0
        while True:
            if self._stop_signal is not None:
                log.info("stopping on %s", signal.Signals(self._stop_signal).name)
                return self._stop(ExitCode.OK)
            if self._reload_requested:
                self._reload()
            done = self._reloader.poll()
            if done is not None:
                self._finish_reload(done)
            if self.schedule is not None and not self.schedule.open_now():
                self._closed()
                continue
            if self.status.state == ServiceState.CLOSED:  # opening time: inference resumes
                loop.pause_inference(False)
            try:
                report = loop.step()
            except camera_failed as exc:
                if self.telemetry is not None:
                    self.telemetry.on_camera_failure()
                    telemetry.after_step(self.telemetry, None, self.status, force=True)
                self._error(f"the camera gave up: {exc}; exiting so systemd restarts the kiosk "
                            "(check the camera cable and `kiosk doctor`)")
                return self._stop(ExitCode.FAILURE)
            except end_of_stream:
                log.info("the replay ended after %d frames; stopping", frames)
                return self._stop(ExitCode.OK)
            except Exception as exc:
                log.exception("the loop failed")
                self._error(f"the loop failed: {type(exc).__name__}: {exc}; exiting so systemd restarts "
                            "the kiosk (journalctl -u move-mirror has the traceback)")
                return self._stop(ExitCode.FAILURE)
            frames += 1
            self.status.frames = frames
            self._health.update(self.loop.stage_errors)
            self._ping()
            self._after_step(report)
            if self.options.max_frames is not None and frames >= self.options.max_frames:
                log.info("stopping after %d frames (--max-frames)", frames)
                return self._stop(ExitCode.OK)

    def _after_step(self, report: StepReport) -> None:
        assert self.config is not None
        assert self.loop is not None  # steps happen only while serving
        failing = self._health.describe(self.loop.stage_last_error)
        if failing is not None and failing != self.status.last_error:
            self._error(failing)
        if self.index is None or failing is not None:
            state = ServiceState.DEGRADED
        else:
            state = ServiceState.IDLE if report.state == "idle" else ServiceState.RUNNING
        self.status.shown = _shown(report)
        due = time.monotonic() - self._last_status >= self.config.status.interval_s
        if state != self.status.state or due:
            self._write_status(state=state)
            self.notifier.status(self._status_text())
        telemetry.after_step(self.telemetry, report, self.status)
        if due:
            self._expire_activation()
            screenshot.serve_request(self._status_path().parent, self._display, self.config)

    def _expire_activation(self) -> None:
        """The kiosk's own dead-man switch (kiosk/gallery/releases.py): reload after a revert."""
        from kiosk.gallery.releases import expire_for_index

        assert self.config is not None
        self._reload_requested |= expire_for_index(self.config.index_path())

    def _closed(self) -> None:
        """Outside opening hours: a black screen (the display is powered down), no inference."""
        import numpy as np

        assert self._display is not None and self.loop is not None
        if self.status.state != ServiceState.CLOSED:
            self.loop.pause_inference(True)
            w, h = self._display.size
            self._display.show(np.zeros((h, w, 3), np.uint8))
        if self.status.state != ServiceState.CLOSED or time.monotonic() - self._last_status >= 5:
            self._write_status(state=ServiceState.CLOSED)
        self._ping(force=True)  # no frames while closed on purpose: the stages' silence is expected
        time.sleep(0.2)

    def _ping(self, *, force: bool = False) -> None:
        stalled = list(self._watchdog.stalled)
        message = self._watchdog.ping(self.loop.stale_stages if self.loop is not None else None, force=force)
        if message:
            self.status.last_error = message
        if self._watchdog.stalled != stalled:
            self.status.stalled = list(self._watchdog.stalled)
            self._write_status()

    def _stop(self, code: int) -> int:
        self.notifier.stopping()
        self._write_status(state=ServiceState.STOPPING)
        return code

    def _close(self) -> None:
        camera = None if self.loop is not None else self._camera  # the loop closes its camera
        parts: tuple[tuple[str, ServedLoop | CameraSource | Display | MatchIndex | None], ...] = (
            ("loop", self.loop), ("camera", camera), ("display", self._display), ("index", self.index))
        for name, part in parts:
            if part is None:
                continue
            try:
                part.close()
            except Exception as exc:
                log.warning("closing the %s failed: %s", name, exc)

    # ---- reload -----------------------------------------------------------------------
    def _reload(self) -> None:
        """SIGHUP: start the reload in the background (a second SIGHUP waits for the first)."""
        if self._reloader.busy:
            return
        self._reload_requested = False
        if self.telemetry is not None:
            self.telemetry.on_reload()
        self.notifier.reloading()
        self._ping(force=True)
        path = self.options.config_path
        log.info("reloading the configuration %s and the index (in the background)", path)
        current_dir = self.index_dir if self.index is not None else None
        self._reloader.start(lambda: reloader.prepare(
            path, self.options.overrides, self.factories.open_index, current_dir=current_dir,
            verify=self.options.verify_on_reload))

    def _finish_reload(self, done: reloader.Prepared | BaseException) -> None:
        applied = False
        try:
            if isinstance(done, ConfigError):
                self._error(f"reload refused, keeping the running configuration: {done}")
            elif isinstance(done, BaseException):
                log.error("the reload failed", exc_info=done)
                self._error(f"reload refused, keeping what is running: {type(done).__name__}: {done}")
            else:
                applied = self._apply_reload(done)
        finally:
            # `kiosk reload` (ExecReload=) waits for the generation to move, then reads the outcome.
            self.status.reload_generation += 1
            self.status.reload_outcome = ReloadOutcome.APPLIED if applied else ReloadOutcome.REFUSED
            self._ping(force=True)
            self._write_status()
            self.notifier.ready(self._status_text())

    def _apply_reload(self, done: reloader.Prepared) -> bool:
        """Swap in the prepared config and index; False when refused (the old ones keep serving)."""
        assert self.config is not None
        new_config, new_index = done.config, done.index
        if done.same_index:
            new_index = self.index
        elif done.index_error is not None:
            if self.index is not None:
                self._error(f"reload refused, keeping index {self.status.index_id}: the index at "
                            f"{new_config.index_path()} cannot be used ({done.index_error})")
                return False
            self._error(f"still no usable index at {new_config.index_path()}: {done.index_error}")
        restart_only = reloader.restart_only_changes(self.config, new_config)
        try:
            assert self.loop is not None  # reloads happen only while serving
            self.loop.apply(config=new_config, index=new_index)
        except Exception as exc:
            self._error(f"reload refused, keeping the running configuration: the loop rejected it ({exc})")
            if new_index is not self.index and new_index is not None:
                new_index.close()
            return False
        old_index = self.index
        self.config, self.index, self.index_dir = new_config, new_index, done.index_dir
        self.status.deployed_config = done.deployed_config
        self.schedule = self.factories.make_schedule(new_config)
        if old_index is not None and old_index is not new_index:
            old_index.close()
        index_id, index_path = components.describe_index(new_index)
        self.status.index_id, self.status.index_path = index_id, index_path
        self.status.source = new_config.camera.source
        self._note_model_choice(after_reload(self.status.model or "", new_config.model.name,
                                             self._index_model(new_index)))
        if new_index is not None:
            self.status.last_error = None
            self.status.state = ServiceState.RUNNING
            log.info("reloaded: index %s from %s", index_id, index_path)
        else:
            self.status.state = ServiceState.DEGRADED
        if restart_only:
            message = (f"reload applied, but changes to {', '.join(restart_only)} take effect only after "
                       "a restart (systemctl restart move-mirror)")
            log.warning("%s", message)
            self.status.last_error = message
        return True
