"""Reload off the loop: read the config and open (and verify) the new index in a background thread.

    reloader = Reloader()
    reloader.start(lambda: prepare(...))      # on SIGHUP, from the loop thread; returns at once
    ...
    done = reloader.poll()                    # every frame: None while working, then a Prepared
                                              # (or the exception the work raised), once

The loop keeps stepping, pinging the watchdog and showing the old index while the sha256 of every
file of the new one is checked (1.1 s per GB); the swap happens on the loop thread in one step,
so what is on screen is always a whole index. The work thread is a daemon: SIGTERM never waits
for it. A refused config or index leaves everything as it was.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.app.service import components
from kiosk.app.service.config import KioskConfig, load_served_config

log = logging.getLogger(__name__)

__all__ = ["Prepared", "Reloader", "prepare", "restart_only_changes"]


@dataclass
class Prepared:
    """A reload's outcome, ready to swap in on the loop thread.

    index: the newly opened index, or None when the index is unchanged (`same_index`) or could
    not be opened (`index_error` says why)."""

    config: KioskConfig
    index_dir: Path
    index: Any = None
    same_index: bool = False
    index_error: str | None = None
    deployed_config: str | None = None  # sha256 of the config deployed with the release, if any


def prepare(config_path: Path, overrides: components.Overrides, open_index: Callable[..., Any], *,
            current_dir: Path | None, verify: bool) -> Prepared:
    """Read and validate the config, then open the index it names unless it is the one serving.

    Raises ConfigError for a bad config. Runs in the reload thread: touches no service state."""
    config, deployed = load_served_config(config_path, overrides.apply)
    new_dir = components.resolve_index_dir(config)
    if current_dir is not None and new_dir == current_dir:
        return Prepared(config, new_dir, same_index=True, deployed_config=deployed)
    try:
        index = open_index(config, verify=verify)
    except Exception as exc:
        return Prepared(config, new_dir, index_error=str(exc), deployed_config=deployed)
    return Prepared(config, new_dir, index=index, deployed_config=deployed)


def restart_only_changes(old: KioskConfig, new: KioskConfig) -> list[str]:
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


class Reloader:
    """One background job at a time; its result (or exception) is collected with poll()."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._result: Any = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(self, work: Callable[[], Prepared]) -> bool:
        """Run work() in a daemon thread; False (and nothing started) while one is running."""
        if self._thread is not None:
            return False
        self._result = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="kiosk-reload", daemon=True)
        self._thread.start()
        return True

    def _run(self, work: Callable[[], Prepared]) -> None:
        try:
            result: Any = work()
        except BaseException as exc:  # handed to the loop thread, which decides
            result = exc
        with self._lock:
            self._result = result

    def poll(self) -> Prepared | BaseException | None:
        """The finished job's outcome (once), else None."""
        thread = self._thread
        if thread is None or thread.is_alive():
            return None
        thread.join()
        with self._lock:
            result, self._result = self._result, None
        self._thread = None
        return result

    def wait(self, timeout: float) -> Prepared | BaseException | None:
        """poll() after waiting up to timeout seconds for the job (tests, tools)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.poll()
