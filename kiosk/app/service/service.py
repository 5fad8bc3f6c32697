"""`kiosk run`: the service shell around the mirror loop.

Start-up: load and validate the config, apply the command-line overrides, load the pose model
(`auto` without an Edge TPU runs on the CPU), open the index (missing or bad: state `degraded`,
the "no index" screen, and keep running so a deploy can fix it), the camera and the display;
then READY, and `MirrorLoop.step()` in the main thread until told to stop.

Signals (handlers only set flags; the work happens between frames):
    SIGHUP           RELOADING; re-read the config file and re-open the index (re-resolving the
                     `current` symlink); a bad config or index is refused with a logged reason and
                     status `last_error`, and the kiosk keeps running the old; then READY.
    SIGTERM, SIGINT  STOPPING, clean close, exit 0.

WATCHDOG pings are sent by the loop itself after a step, so a stalled loop stops pinging and
systemd restarts the kiosk. Exit codes: 0 clean stop (signal, --max-frames, end of a non-looping
replay), 1 runtime failure (camera gave up, model failed to load, unexpected error), 2 bad config.

Test hook: KIOSK_TEST_STALL_AFTER_FRAMES=N makes the loop stop stepping (and so stop pinging the
watchdog) after N frames, as a hung camera or model would; it still obeys SIGTERM. Never set it
in production.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from kiosk.app.service import components
from kiosk.app.service.config import ConfigError, KioskConfig, load_config
from kiosk.app.service.sdnotify import Notifier, watchdog_interval
from kiosk.app.service.status import KioskStatus, ReloadOutcome, write_status

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
STALL_ENV = "KIOSK_TEST_STALL_AFTER_FRAMES"


def _default_open_camera(source: str, config: Any) -> Any:
    from kiosk.app.devices.camera.source import open_camera

    return open_camera(source, config)


def _default_open_display(config: Any, headless: bool | None) -> Any:
    from kiosk.app.devices.display.base import open_display

    return open_display(config, headless=headless)


def _default_make_loop(config: KioskConfig, camera: Any, model: Any, index: Any, display: Any,
                       screenshots: Path | None) -> Any:
    from kiosk.app.loop import MirrorLoop

    return MirrorLoop(config, camera, model, index, display, screenshots=screenshots)


def _camera_exceptions() -> tuple[type[BaseException], type[BaseException]]:
    from kiosk.app.devices.camera.source import CameraFailed, EndOfStream

    return CameraFailed, EndOfStream


@dataclass
class Factories:
    """How the parts are made; tests swap in fakes."""

    load_model: Callable[[KioskConfig], components.LoadedModel] = components.load_model
    open_index: Callable[..., Any] = components.open_index
    open_camera: Callable[[str, Any], Any] = _default_open_camera
    open_display: Callable[[Any, bool | None], Any] = _default_open_display
    make_loop: Callable[..., Any] = _default_make_loop
    camera_exceptions: Callable[[], tuple[type[BaseException], type[BaseException]]] = _camera_exceptions


@dataclass
class RunOptions:
    config_path: Path
    overrides: components.Overrides = field(default_factory=components.Overrides)
    max_frames: int | None = None
    screenshots: Path | None = None
    headless: bool | None = None
    verify_on_reload: bool = True


def _restart_only_changes(old: KioskConfig, new: KioskConfig) -> list[str]:
    """Sections a reload cannot change in a running kiosk (they need a restart)."""
    changed = []
    if old.model != new.model:
        changed.append("model")
    if old.camera.source != new.camera.source or (old.camera.width, old.camera.height) != (
            new.camera.width, new.camera.height):
        changed.append("camera.source/width/height")
    if (old.display.width, old.display.height, old.display.fullscreen) != (
            new.display.width, new.display.height, new.display.fullscreen):
        changed.append("display.width/height/fullscreen")
    return changed


class KioskService:
    def __init__(self, options: RunOptions, *, factories: Factories | None = None,
                 notifier: Notifier | None = None) -> None:
        self.options = options
        self.factories = factories or Factories()
        self.notifier = notifier or Notifier()
        self.config: KioskConfig | None = None
        self.status = KioskStatus(config_path=str(options.config_path))
        self.index: Any = None
        self.index_dir: Path | None = None
        self.loop: Any = None
        self._camera: Any = None
        self._display: Any = None
        self._stop_signal: int | None = None
        self._reload_requested = False
        self._last_ping = 0.0
        self._last_status = 0.0
        self._watchdog = watchdog_interval()

    # ---- signals ----------------------------------------------------------------------
    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_signal = signum

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload_requested = True

    def _install_signals(self) -> dict[int, Any]:
        previous = {}
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
            self.status.fps = float(getattr(self.loop, "fps", 0.0) or 0.0)
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
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> int:
        try:
            self.config = self.options.overrides.apply(load_config(self.options.config_path))
        except ConfigError as exc:
            self._error(f"cannot start: {exc}\nfix the file (kiosk config check "
                        f"{self.options.config_path}) and restart")
            self._write_status(state="stopping")
            return EXIT_CONFIG
        config = self.config
        self.status.source = config.camera.source
        self._write_status(state="starting", model=config.model.name)
        self.notifier.status("starting: loading the pose model")
        try:
            loaded = self.factories.load_model(config)
        except Exception as exc:
            self._error(f"cannot load the pose model {config.model.name!r}: {exc}; check model.name "
                        "and that the models are fetched (kiosk models fetch, kiosk doctor)")
            self._write_status(state="stopping")
            return EXIT_FAILURE
        self.status.model = str(getattr(loaded.model, "name", config.model.name))
        self.status.delegate = loaded.delegate
        if loaded.warning:
            self.status.last_error = loaded.warning
        self._open_first_index(config)
        try:
            return self._serve(config, loaded.model)
        finally:
            self._close()

    def _open_first_index(self, config: KioskConfig) -> None:
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

    def _serve(self, config: KioskConfig, model: Any) -> int:
        camera_failed, end_of_stream = self.factories.camera_exceptions()
        try:
            self._camera = self.factories.open_camera(config.camera.source, config.camera)
            self._display = self.factories.open_display(config.display, self.options.headless)
            self.loop = self.factories.make_loop(config, self._camera, model, self.index, self._display,
                                                 self.options.screenshots)
        except Exception as exc:
            self._error(f"cannot start the kiosk: {exc}")
            self._write_status(state="stopping")
            return EXIT_FAILURE
        self._write_status(state="degraded" if self.index is None else "running")
        self.notifier.ready(self._status_text())
        log.info("kiosk running: %s", self._status_text())
        self._ping(force=True)
        stall_after = self._stall_after()
        frames = 0
        while True:
            if self._stop_signal is not None:
                log.info("stopping on %s", signal.Signals(self._stop_signal).name)
                return self._stop(EXIT_OK)
            if self._reload_requested:
                self._reload()
                continue
            if stall_after is not None and frames >= stall_after:
                self._stall()
                continue
            try:
                report = self.loop.step()
            except camera_failed as exc:
                self._error(f"the camera gave up: {exc}; exiting so systemd restarts the kiosk "
                            "(check the camera cable and `kiosk doctor`)")
                return self._stop(EXIT_FAILURE)
            except end_of_stream:
                log.info("the replay ended after %d frames; stopping", frames)
                return self._stop(EXIT_OK)
            except Exception as exc:
                log.exception("the loop failed")
                self._error(f"the loop failed: {type(exc).__name__}: {exc}; exiting so systemd restarts "
                            "the kiosk (journalctl -u move-mirror has the traceback)")
                return self._stop(EXIT_FAILURE)
            frames += 1
            self.status.frames = frames
            self._ping()
            self._after_step(report)
            if self.options.max_frames is not None and frames >= self.options.max_frames:
                log.info("stopping after %d frames (--max-frames)", frames)
                return self._stop(EXIT_OK)

    def _after_step(self, report: Any) -> None:
        assert self.config is not None
        if self.index is None:
            state = "degraded"
        else:
            state = "idle" if getattr(report, "state", "running") == "idle" else "running"
        due = time.monotonic() - self._last_status >= self.config.status.interval_s
        if state != self.status.state or due:
            self._write_status(state=state)
            self.notifier.status(self._status_text())

    def _ping(self, *, force: bool = False) -> None:
        if self._watchdog is None:
            return
        now = time.monotonic()
        if force or now - self._last_ping >= self._watchdog / 2:
            self.notifier.watchdog()
            self._last_ping = now

    def _stall_after(self) -> int | None:
        value = os.environ.get(STALL_ENV, "").strip()
        if not value:
            return None
        log.warning("%s=%s: test hook, the loop will stall after %s frames", STALL_ENV, value, value)
        return int(value)

    def _stall(self) -> None:
        """The test hook: sit here without stepping (or pinging) until a stop signal."""
        log.warning("%s: stalling after %d frames (test hook)", STALL_ENV, self.status.frames)
        self._write_status()
        while self._stop_signal is None:
            time.sleep(0.05)

    def _stop(self, code: int) -> int:
        self.notifier.stopping()
        self._write_status(state="stopping")
        return code

    def _close(self) -> None:
        camera = None if self.loop is not None else self._camera  # the loop closes its camera
        for name, part in (("loop", self.loop), ("camera", camera), ("display", self._display),
                           ("index", self.index)):
            close = getattr(part, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as exc:
                log.warning("closing the %s failed: %s", name, exc)

    # ---- reload -----------------------------------------------------------------------
    def _reload(self) -> None:
        self._reload_requested = False
        self.notifier.reloading()
        self._ping(force=True)
        path = self.options.config_path
        log.info("reloading the configuration %s and the index", path)
        applied = False
        try:
            applied = self._do_reload(path)
        finally:
            # `kiosk reload` (ExecReload=) waits for the generation to move, then reads the outcome.
            self.status.reload_generation += 1
            self.status.reload_outcome = ReloadOutcome.APPLIED if applied else ReloadOutcome.REFUSED
            self._ping(force=True)
            self._write_status()
            self.notifier.ready(self._status_text())

    def _do_reload(self, path: Path) -> bool:
        """Apply the file's config and index; False when refused (the old ones keep serving)."""
        assert self.config is not None
        try:
            new_config = self.options.overrides.apply(load_config(path))
        except ConfigError as exc:
            self._error(f"reload refused, keeping the running configuration: {exc}")
            return False
        new_dir = components.resolve_index_dir(new_config)
        new_index = self.index
        if self.index is None or new_dir != self.index_dir:
            try:
                new_index = self.factories.open_index(new_config, verify=self.options.verify_on_reload)
            except Exception as exc:
                if self.index is not None:
                    self._error(f"reload refused, keeping index {self.status.index_id}: the index at "
                                f"{new_config.index_path()} cannot be used ({exc})")
                    return False
                new_index = None
                self._error(f"still no usable index at {new_config.index_path()}: {exc}")
        restart_only = _restart_only_changes(self.config, new_config)
        try:
            self.loop.apply(config=new_config, index=new_index)
        except Exception as exc:
            self._error(f"reload refused, keeping the running configuration: the loop rejected it ({exc})")
            if new_index is not self.index and new_index is not None:
                getattr(new_index, "close", lambda: None)()
            return False
        old_index = self.index
        self.config, self.index, self.index_dir = new_config, new_index, new_dir
        if old_index is not None and old_index is not new_index:
            getattr(old_index, "close", lambda: None)()
        index_id, index_path = components.describe_index(new_index)
        self.status.index_id, self.status.index_path = index_id, index_path
        self.status.source = new_config.camera.source
        if new_index is not None:
            self.status.last_error = None
            self.status.state = "running"
            log.info("reloaded: index %s from %s", index_id, index_path)
        else:
            self.status.state = "degraded"
        if restart_only:
            message = (f"reload applied, but changes to {', '.join(restart_only)} take effect only after "
                       "a restart (systemctl restart move-mirror)")
            log.warning("%s", message)
            self.status.last_error = message
        return True
