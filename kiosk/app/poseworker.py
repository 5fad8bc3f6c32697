"""Pose estimation on its own: the newest camera frame -> model -> `Perception`.

    worker = PoseWorker(grabber, model, perceiver, heartbeats=beats)
    worker.start()                 # a thread: estimate, perceive, publish; again
    worker.latest                  # the newest Perception (None before the first)
    worker.run_once(timeout)       # the same work inline (the old single-thread loop, tests)

The worker takes the newest frame the grabber has (older ones are skipped), so the pose rate is
the model's and the render loop never waits for it. `prepare(perception)` runs before a
perception is published (the loop decodes the matched photo there), `on_perception` after.
`lock` guards the perceiver: the render side takes it to swap the configuration or the index
between two estimates. A failing
estimate or match is logged and counted (`stage_errors`); the camera's end (CameraFailed,
EndOfStream) or an unexpected error stops the thread and is kept in `error` for the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from kiosk.app.devices.camera.grabber import FrameGrabber, Grabbed
from kiosk.app.heartbeat import Heartbeats, Stage
from kiosk.app.mirror.perceive import Perceiver, Perception
from kiosk.app.stats import StageStats
from kiosk.pose.flip import mirrored_estimate
from kiosk.pose.model import PoseModel
from kiosk.pose.scales import ScaleCycle
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

#: Fresh frames (grabber.fresh_wait): the threaded kiosk's worker waits for a fresher frame at most this
#: share of its last estimate's time, so the wait never costs the pose rate more than that.
FRESH_SHARE = 0.1


class PoseWorker:
    def __init__(self, grabber: FrameGrabber, model: PoseModel, perceiver: Perceiver, *, mirror: bool,
                 heartbeats: Heartbeats, on_perception: Callable[[Perception], None] | None = None,
                 prepare: Callable[[Perception], None] | None = None,
                 model_input: Callable[[np.ndarray, float], tuple[np.ndarray, int]] | None = None,
                 fresh_share: float = 0.0, scales: ScaleCycle | None = None) -> None:
        self.grabber = grabber
        #: the model's reduced copy of a frame (modelinput.py), made here for the frames estimated
        #: only, not for every camera frame (None: the model gets the full frame)
        self.model_input = model_input
        self.model = model
        #: the sizes frames are estimated at in turn (kiosk.pose.scales; None: the frame as is)
        self.scales = scales
        self.perceiver = perceiver
        self.mirror = mirror
        self.heartbeats = heartbeats
        #: called with each perception before it is published (its matched photo decoded, so the
        #: render loop can present it at once), then on_perception once it is published
        self.prepare = prepare
        self.on_perception = on_perception
        self.lock = threading.Lock()
        self.stats = StageStats()
        self.stage_errors: dict[str, int] = {}
        self.stage_last_error: dict[str, str] = {}
        self.estimated = 0
        self.error: BaseException | None = None
        self._latest: Perception | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._paused = threading.Event()  # opening hours: no estimates while the kiosk is closed
        self._thread: threading.Thread | None = None
        self._last_taken: float | None = None  # time.monotonic() of the last frame taken
        self._last_done = 0.0  # ... and of the end of its estimate
        self._estimate_s = 0.0  # the last estimate's time, frame taken -> perception published
        #: fresh frames: the share of the last estimate's time the worker may wait for a fresher
        #: frame (FRESH_SHARE in the threaded kiosk; 0 in the serial loop, which the screen waits on)
        self.fresh_share = float(fresh_share)

    # ---- the newest result -----------------------------------------------------------------
    @property
    def latest(self) -> Perception | None:
        with self._cond:
            return self._latest

    def wait_newer(self, seq: int, timeout: float) -> Perception | None:
        """The newest perception once its seq is above `seq` (None if none came in time)."""
        with self._cond:
            self._cond.wait_for(lambda: (self._latest is not None and self._latest.seq > seq)
                                or self.error is not None, timeout)
            latest = self._latest
        return latest if latest is not None and latest.seq > seq else None

    # ---- thread -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pose", daemon=True)
        self._thread.start()

    def stop(self, join_timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(join_timeout)
            if thread.is_alive():
                log.warning("the pose worker did not stop within %.0f s (a model stuck in invoke?)",
                            join_timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self, paused: bool) -> None:
        """Stop (or resume) estimating; the thread stays, waiting."""
        (self._paused.set if paused else self._paused.clear)()
        self._last_taken = None  # a pause is no estimate's cycle

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(0.25)
                continue
            try:
                self.run_once(0.25)
            except BaseException as exc:  # CameraFailed, EndOfStream, or a bug: the loop raises it
                with self._cond:
                    self.error = exc
                    self._cond.notify_all()
                return

    # ---- one frame ----------------------------------------------------------------------------
    def run_once(self, timeout: float) -> Perception | None:
        """Estimate and perceive the newest frame not taken yet (None: no new frame in time).
        Raises CameraFailed / EndOfStream from the grabber."""
        t0 = time.perf_counter()
        self.heartbeats.waiting(Stage.POSE)  # for the camera: its own heartbeat covers the wait
        grabbed = self.grabber.get(timeout, self.fresh_share * self._estimate_s)
        if grabbed is None:
            return None
        taken_at = time.monotonic()
        self.heartbeats.beat(Stage.POSE)
        t1 = time.perf_counter()
        timings = {"capture_wait": (t1 - t0) * 1000.0, "prepare": grabbed.prepare_ms,
                   "age": (taken_at - grabbed.captured_at) * 1000.0}
        if self._last_taken is not None:  # one estimate's whole cycle, and what lies outside its stages
            timings["cycle"] = (taken_at - self._last_taken) * 1000.0
            timings["between"] = (taken_at - self._last_done) * 1000.0
        self._last_taken = taken_at
        poses = self._stage("pose", self._estimate, grabbed, timings) or []
        t2 = time.perf_counter()
        timings["pose"] = (t2 - t1) * 1000.0
        h, w = grabbed.frame.shape[:2]
        with self.lock:
            perception = self._stage("match", self.perceiver.perceive, poses, (w, h), grabbed.timestamp,
                                     camera_seq=grabbed.seq, captured_at=grabbed.captured_at, timings=timings)
        t3, matched_at = time.perf_counter(), time.monotonic()
        timings["match"] = (t3 - t2) * 1000.0
        if perception is not None and self.prepare is not None:  # e.g. decode the matched photo
            self._stage("prepare", self.prepare, perception)
            timings["photo"] = (time.perf_counter() - t3) * 1000.0
        self.estimated += 1
        self.stats.add(timings)
        self.heartbeats.beat(Stage.POSE)
        if perception is None:
            self._done(taken_at)
            return None
        perception = replace(perception, taken_at=taken_at, matched_at=matched_at,
                             published_at=time.monotonic())
        with self._cond:
            self._latest = perception
            self._cond.notify_all()
        if self.on_perception is not None:
            self.on_perception(perception)
        self._done(taken_at)
        return perception

    def _done(self, taken_at: float) -> None:
        self._last_done = time.monotonic()
        self._estimate_s = self._last_done - taken_at

    def _stage(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            n = self.stage_errors[name] = self.stage_errors.get(name, 0) + 1
            self.stage_last_error[name] = f"{type(exc).__name__}: {exc}"
            if n == 1 or n % 100 == 0:
                log.error("%s stage failed on estimate %d (%d so far): %s", name, self.estimated + 1, n,
                          exc, exc_info=n == 1)
            return None

    def _estimate(self, grabbed: Grabbed, timings: dict[str, float]) -> list[Pose]:
        scales = self.scales  # once: the render thread may swap it (apply)
        model = self.model  # likewise (pose.flip_views): a swap applies from the next estimate
        margin, mirrored = (0.0, False) if scales is None else scales.next_view()
        small, scale = grabbed.model_frame, grabbed.model_scale
        if small is None and self.model_input is not None:
            t0 = time.perf_counter()
            # reduced for the canvas the model gets (the frame with its margin), not the frame
            small, scale = self.model_input(grabbed.frame, 1.0 + 2.0 * margin)
            timings["reduce"] = (time.perf_counter() - t0) * 1000.0
        image = grabbed.frame if small is None else small
        poses = mirrored_estimate(model, image, margin) if mirrored else model.estimate(image, margin)
        if scales is not None:
            scales.observe(poses, image.shape[0])
        for k, v in model.last_timings.items():
            timings[k] = float(v)
        if small is not None and scale != 1:
            poses = [p.scaled(scale) for p in poses]
        if self.mirror:
            w = grabbed.frame.shape[1]
            poses = [p.flipped(w) for p in poses]
        return poses
