"""Capture in its own thread, keeping only the newest frame.

Two consumers: the pose worker takes frames (`get`: each frame at most once, the newest), the
render loop looks at the newest (`peek`) as often as it presents. The pose worker never works on
a stale frame: a frame the loop did not take in time is replaced by
the next one (counted in `dropped`). Sources that return frames at once (a replay "as fast as
possible", `paced = False`) are read on demand instead: the next frame is captured only once
the pose worker has taken the last one, so every recorded frame is estimated once.

Fresh frames (`get(timeout, max_wait)`): a paced camera delivers a frame every interval
T, so the frame a free pose worker finds is on average T/2 old, and that age adds to every
photo switch. When the newest frame is older than the wait for the next one (it is due sooner
than the newest is old), `get` waits for the next frame instead: the age of an estimated frame
drops from T/2 to about T/8 on average, for an idle wait of about T/8 an estimate (both
measured by `kiosk bench loop`; docs/mirror.md). The consumer bounds the wait (`max_wait`: the
threaded pose worker allows a share of its own estimate's time, the serial loop none), so a
slow camera cannot cost a fast model much of its pose rate.

`on_alive` (the camera's heartbeat) is called whenever the camera answers a capture, `on_idle`
when the capture thread waits for demand: a camera stuck inside capture() goes quiet.

Failures (CameraError, CameraTimeout, any exception from the source) are counted; after
camera.max_failures in a row the grabber stops and `get()` raises CameraFailed, on which the
service exits non-zero for systemd to restart it. A source stuck inside capture() (ignoring its
timeout) cannot count its own failures: `get()` raises CameraFailed too when no frame has come
for (max_failures + 1) x timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kiosk.app.devices.camera.source import CameraFailed, CameraSource, EndOfStream

log = logging.getLogger(__name__)

#: (fresh frames) how much later than expected the next frame may come before the newest is taken,
#: as a share of the frame interval
FRESH_SLACK = 0.25
#: a gap between two frames above this (s) is a stall, not the camera's interval
MAX_INTERVAL_S = 1.0


def fresh_wait(age: float, interval: float | None, max_wait: float = float("inf")) -> float:
    """How long (s) to wait for the next frame rather than take one `age` s old, from a camera
    with a frame every `interval` s (None: unknown); 0 takes it. The next frame is due in
    interval - age; it is waited for (plus FRESH_SLACK) when that is sooner than `age` and
    within `max_wait`."""
    if interval is None:
        return 0.0
    due = interval - age
    return due + interval * FRESH_SLACK if 0.0 < due < age and due <= max_wait else 0.0


@dataclass(frozen=True)
class Grabbed:
    frame: np.ndarray  # (H, W, 3) uint8 RGB, as the source gave it
    seq: int  # 1, 2, ... in capture order (gaps = dropped frames)
    timestamp: float  # seconds: the source's media time (replays) or time.monotonic()
    model_frame: np.ndarray | None = None  # the frame reduced for the pose model (see modelinput)
    model_scale: int = 1  # model_frame pixels * model_scale = frame pixels
    prepare_ms: float = 0.0  # capture-thread time spent on transform + reduction
    captured_at: float = 0.0  # time.monotonic() when capture() returned it


class FrameGrabber:
    def __init__(self, camera: CameraSource, *, timeout: float, max_failures: int,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None,
                 model_input: Callable[[np.ndarray], tuple[np.ndarray, int]] | None = None,
                 on_alive: Callable[[], None] | None = None,
                 on_idle: Callable[[], None] | None = None) -> None:
        self.camera = camera
        #: the camera's frame interval (s), a running mean of paced captures (None until known)
        self.interval: float | None = None
        self.on_alive = on_alive
        self.on_idle = on_idle
        #: applied to each frame in the capture thread (camera.rotation), off the loop's time
        self.transform = transform
        #: makes the pose model's small copy of each frame, in the capture thread too
        self.model_input = model_input
        self.timeout = float(timeout)
        self.max_failures = int(max_failures)
        self.failures = 0  # consecutive
        self.total_failures = 0
        self.dropped = 0
        self.captured = 0
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._newest: Grabbed | None = None
        self._taken = 0
        self._error: BaseException | None = None
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last_frame = time.monotonic()  # when the source last gave a frame (or started)
        self.stall_limit = self.timeout * (self.max_failures + 1)

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the camera (errors are raised here, at once) and the capture thread."""
        self.camera.start()
        self._last_frame = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="grabber", daemon=True)
        self._thread.start()

    def stop(self, join_timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(join_timeout)
            if self._thread.is_alive():
                log.warning("the capture thread of %s did not stop within %.0f s", self.camera.name,
                            join_timeout)
        self._thread = None

    # ---- consumer side --------------------------------------------------------------------
    def get(self, timeout: float, max_wait: float = 0.0) -> Grabbed | None:
        """The newest frame not taken yet, waiting up to `timeout` s (None if none came);
        fresh frames: waiting up to about `max_wait` s more for a fresher one (fresh_wait; paced
        sources only; 0, the default, takes what is there).

        Raises CameraFailed after max_failures consecutive failures, EndOfStream when a replay
        that does not loop has ended and its last frame has been taken.
        """
        with self._cond:
            self._cond.wait_for(self._ready, timeout)
            newest = self._newest
            if newest is not None and newest.seq > self._taken:
                newest = self._fresher(newest, max_wait)
                self._taken = newest.seq
                self._cond.notify_all()
                return newest
            if self._error is not None:
                raise self._error
            silent = time.monotonic() - self._last_frame
            if self._thread is not None and silent > self.stall_limit:
                message = (f"{self.camera.name}: no frame for {silent:.1f} s (capture does not return); "
                           "giving up so the service exits and systemd restarts it")
                log.error("%s", message)
                self._error = CameraFailed(message)
                raise self._error
            return None

    def _fresher(self, newest: Grabbed, max_wait: float) -> Grabbed:
        """(holding the lock) `newest`, or the next frame if it is due sooner than `newest` is old."""
        age = time.monotonic() - newest.captured_at
        wait = fresh_wait(age, self.interval, max_wait)
        if wait <= 0.0:
            return newest
        self._cond.wait_for(lambda: self._newest is not newest or self._error is not None or self._stop, wait)
        following = self._newest
        return following if following is not None and following.seq > newest.seq else newest

    def peek(self) -> Grabbed | None:
        """The newest frame (taken or not), without waiting; None before the first."""
        with self._cond:
            return self._newest

    def _ready(self) -> bool:
        newest = self._newest
        return (newest is not None and newest.seq > self._taken) or self._error is not None or self._stop

    # ---- capture thread -----------------------------------------------------------------------
    def _wait_for_demand(self) -> bool:
        """Unpaced sources: wait until the last frame was taken. False when stopping."""
        def demanded() -> bool:
            return self._stop or self._newest is None or self._taken >= self._newest.seq

        with self._cond:
            if demanded():
                return not self._stop
        if self.on_idle is not None:
            self.on_idle()  # waiting for the consumer is not a hung camera
        with self._cond:
            self._cond.wait_for(demanded)
            return not self._stop

    def _alive(self) -> None:
        if self.on_alive is not None:
            self.on_alive()

    def _run(self) -> None:
        seq = 0
        while True:
            if not self.camera.paced:
                if not self._wait_for_demand():
                    return
            elif self._stop:
                return
            try:
                frame = self.camera.capture(self.timeout)
            except EndOfStream as exc:
                self._finish(exc)
                return
            except Exception as exc:  # every failure counts, whatever the adapter raised
                self._alive()
                if self._stop:
                    return
                if self._failed(exc):
                    return
                continue
            captured_at = time.monotonic()
            self._alive()
            ts = self.camera.timestamp
            ts = float(ts) if ts is not None else captured_at
            t0 = time.perf_counter()
            try:
                frame, small, k = self._prepare(frame)
            except Exception as exc:  # a frame we cannot use counts as a failed capture
                if self._failed(exc):
                    return
                continue
            seq += 1
            grabbed = Grabbed(frame, seq, ts, small, k, (time.perf_counter() - t0) * 1000.0, captured_at)
            with self._cond:
                if self._newest is not None and self._newest.seq > self._taken:
                    self.dropped += 1
                if self._newest is not None and self.camera.paced:
                    self._observe_interval(captured_at - self._newest.captured_at)
                self._newest = grabbed
                self._last_frame = time.monotonic()
                self.failures = 0
                self.captured += 1
                self._cond.notify_all()

    def _observe_interval(self, gap: float) -> None:
        if 0.0 < gap < MAX_INTERVAL_S:
            self.interval = gap if self.interval is None else 0.9 * self.interval + 0.1 * gap

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, int]:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"{self.camera.name} gave a {frame.shape} {frame.dtype} frame, "
                             "not (H, W, 3) uint8 RGB")
        transform = self.transform
        if transform is not None:
            frame = transform(frame)
        model_input = self.model_input
        if model_input is None:
            return frame, None, 1
        small, k = model_input(frame)
        return frame, small, k

    def _failed(self, exc: BaseException) -> bool:
        """Count a failure; True when the grabber gives up."""
        self.failures += 1
        self.total_failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.failures < self.max_failures:
            log.warning("%s: capture failed (%d of %d in a row): %s", self.camera.name, self.failures,
                        self.max_failures, self.last_error)
            time.sleep(min(0.05 * self.failures, 0.5))
            return False
        message = (f"{self.camera.name}: {self.failures} consecutive capture failures "
                   f"(last: {self.last_error}); giving up so the service exits and systemd restarts it")
        log.error("%s", message)
        failed = CameraFailed(message)
        failed.__cause__ = exc
        self._finish(failed)
        return True

    def _finish(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()
