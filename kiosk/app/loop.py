"""The mirror: the newest camera frame on screen at display rate, the pose model on its own.

    loop = MirrorLoop(config, camera, model, index, display, screenshots=None)
    loop.start()                 # kernels warmed, camera, photo loader and pose worker started
    while True:
        report = loop.step()     # one displayed frame; raises CameraFailed, EndOfStream
    loop.close()

Three threads: the grabber keeps the newest camera frame; the pose worker (poseworker.py)
estimates and matches the newest frame it can take, at the model's rate; `step()`, in the
caller's thread, composes and presents one frame at most display.max_fps times a second from
the newest camera frame and the newest perception, whatever the model costs. The skeleton is
the latest pose carried to the displayed frame's time by the smoothing state's speed (at most
MAX_CARRY_S ahead); crossfades run on the display clock; the idle timeout and slides on frame
time (the media time of a replay). `threaded=False` runs the pose work inside `step()` (the
single-thread loop of old: the display waits for the model) for comparisons.

What the report, the overlay, the status and the screenshots call "shown" is what the renderer
composed on this frame; `fading` says a crossfade is still in progress.

`apply(config, index)` swaps a new configuration and/or index in between frames (SIGHUP).
index=None shows a "no index loaded" screen (state "searching"). `stale_stages(limit)` names
the stages (camera, pose, render) that have gone quiet: the service stops the watchdog pings.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.app.devices.camera.grabber import FrameGrabber, Grabbed
from kiosk.app.devices.camera.source import CameraSource, EndOfStream
from kiosk.app.devices.display.base import Display
from kiosk.app.heartbeat import Heartbeats, Stage
from kiosk.app.mirror.director import Director, MirrorState
from kiosk.app.mirror.perceive import Perceiver, Perception
from kiosk.app.mirror.smoothing import carry
from kiosk.app.mirror.target import NOBODY, Target
from kiosk.app.modelinput import ModelInput
from kiosk.app.modelinput import warm_up as model_input_warm_up
from kiosk.app.pacing import Pacer
from kiosk.app.photos import Photos
from kiosk.app.poseworker import FRESH_SHARE, PoseWorker
from kiosk.app.priority import RENDER_NICE, ThreadNice
from kiosk.app.screen.blit import warm_up as blit_warm_up
from kiosk.app.screen.captions import Captions
from kiosk.app.screen.overlay import debug_lines
from kiosk.app.screen.render import Renderer, Scene
from kiosk.app.screen.screenshots import Screenshots
from kiosk.app.service.config import KioskConfig
from kiosk.app.stats import StageStats
from kiosk.app.switchclock import SwitchClock, is_switch_timing
from kiosk.gallery.protocol import MatchIndex
from kiosk.pose.flip import cycles_flips, with_flip
from kiosk.pose.model import PoseModel
from kiosk.pose.scales import ScaleCycle, uses_scale_views
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

#: The skeleton is carried forward by at most this long (s): beyond, extrapolation overshoots.
MAX_CARRY_S = 0.2


@dataclass
class FrameReport:
    """One displayed frame. `shown_entry`/`state` describe what is on screen on this frame."""

    frame: int  # displayed frame number, 1, 2, ...
    poses: int  # people in the newest perception
    main_pose: Pose | None  # the skeleton drawn (carried to the displayed frame's time)
    shown_entry: int | None  # the photo on screen (fading in when `fading`)
    distance: float | None  # the shown photo's distance to the visitor's pose, if known
    state: MirrorState
    changed: bool  # what is shown changed on this frame
    timings: dict[str, float] = field(default_factory=dict)  # ms
    fading: bool = False  # a crossfade is in progress on this frame
    camera_seq: int = 0  # the camera frame on screen
    perception: Perception | None = None  # the newest pose result used
    target: Target = NOBODY  # what the mirror wants on screen (may wait for its photo to load)
    camera_failures: int = 0  # failed captures since the camera opened (transient ones too)
    composed: bool = True  # composed anew (False: nothing new, the last picture presented again)


def _scale_cycle(config: KioskConfig, model: PoseModel) -> ScaleCycle:
    """The worker's cycle of views (scale views on), mirrored every other frame under cycled
    flips (pose.flip_views: kiosk.pose.flip.cycles_flips)."""
    return ScaleCycle(flips=cycles_flips(config.pose.flip_views, model.delegate))


def _rotator(degrees: int) -> Any:
    turns = (-(degrees // 90)) % 4  # np.rot90 turns counter-clockwise; camera.rotation is clockwise
    if not turns:
        return None
    return lambda a: np.ascontiguousarray(np.rot90(a, turns))


class MirrorLoop:
    def __init__(self, config: KioskConfig, camera: CameraSource, model: PoseModel, index: MatchIndex | None,
                 display: Display, *, screenshots: Path | None = None, threaded: bool = True,
                 clock: Callable[[], float] = time.monotonic, heartbeats: Heartbeats | None = None,
                 render_nice: int = RENDER_NICE) -> None:
        self.config = config
        self.camera = camera
        self.model = model
        self.index = index
        self.display = display
        self.threaded = threaded
        self.clock = clock
        self.heartbeats = heartbeats or Heartbeats()
        self.screenshots = Path(screenshots) if screenshots else None
        self._shots = Screenshots(self.screenshots, display) if self.screenshots else None
        self._renderer = Renderer(config.display, display.size,
                                  keypoint_threshold=config.pose.keypoint_threshold,
                                  target=display.canvas)
        self._photos = Photos(index=lambda: self.index, slot=lambda: self._renderer.photo_slot,
                              like=self._renderer.pixel_format())  # (the template made in the main thread)
        self._stats = StageStats()
        self._captions = Captions()
        self._pacer = Pacer(config.display.max_fps)
        self._director = Director(config.attract.idle_timeout_s, config.attract.slide_seconds)
        views = uses_scale_views(config.pose.scale_views, model.family)
        self._perceiver = Perceiver(config, live=True, scale_views=views)
        self._grabber = FrameGrabber(camera, timeout=config.camera.capture_timeout_s,
                                     max_failures=config.camera.max_failures,
                                     transform=_rotator(config.camera.rotation),
                                     on_alive=lambda: self.heartbeats.beat(Stage.CAMERA),
                                     on_idle=lambda: self.heartbeats.waiting(Stage.CAMERA))
        self._worker = PoseWorker(self._grabber, with_flip(model, config.pose.flip_views),
                                  self._perceiver, mirror=config.camera.mirror,
                                  heartbeats=self.heartbeats, prepare=self._photos.prepare,
                                  on_perception=self._on_perception,
                                  model_input=ModelInput(model.input_size, model.preprocess),
                                  fresh_share=FRESH_SHARE if threaded else 0.0,
                                  scales=_scale_cycle(config, model) if views else None)
        #: threaded, the render thread runs nicer than the pose worker (priority.py)
        self._nice = ThreadNice(render_nice if threaded else 0)
        self.frame = 0
        self._started = False
        self._last_report: FrameReport | None = None
        self._presented_seq = 0  # the newest perception presented
        #: the newest perception's target and the perception that first proposed it: a switch's
        #: latency runs from its camera frame's capture to the screen (switchclock.py)
        self._switches = SwitchClock()
        self._wake_target: Target = NOBODY  # the target of the worker's last perception
        self._shown_content: Hashable = None  # the director's content on the last frame
        #: what the last composed picture was made of (camera frame, perception, content),
        #: and the picture: a frame with nothing new is presented again, not composed again
        self._composed: tuple[Any, ...] = ()
        self._surface: Any = None
        self._set_index(index)

    # ---- public ------------------------------------------------------------------------------
    def start(self) -> None:
        """Warm the kernels, start the photo loader, the camera and (threaded) the pose worker."""
        blit_warm_up()  # numba kernels: compiled (or loaded) now, not during the first frames
        model_input_warm_up()
        self._perceiver.warm_up()
        self._photos.start()
        self.heartbeats.start(Stage.CAMERA, Stage.POSE, Stage.RENDER)
        self._grabber.start()
        if self.threaded:
            self._worker.start()
        self._started = True

    @property
    def fps(self) -> float:
        """Displayed frames per second (recent)."""
        return self._stats.fps

    @property
    def pose_rate(self) -> float:
        """Estimates per second (recent)."""
        return self._worker.stats.fps

    @property
    def stage_ms(self) -> dict[str, float]:
        return self.stage_percentile(50)

    def stage_percentile(self, q: float) -> dict[str, float]:
        return {**self._worker.stats.percentile(q), **self._stats.percentile(q)}

    @property
    def stage_errors(self) -> dict[str, int]:
        """Failures per stage (pose, match) so far (the service's StageHealth reads them)."""
        return dict(self._worker.stage_errors)

    @property
    def stage_last_error(self) -> dict[str, str]:
        """The last failure of each stage, as "Type: message"."""
        return dict(self._worker.stage_last_error)

    @property
    def grabber(self) -> FrameGrabber:
        return self._grabber

    @property
    def worker(self) -> PoseWorker:
        return self._worker

    @property
    def renderer(self) -> Renderer:
        return self._renderer

    @property
    def photos(self) -> Photos:
        return self._photos

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    def pause_inference(self, paused: bool) -> None:
        """Opening hours (kiosk/app/service/schedule.py): the pose worker stops or resumes."""
        self.worker.pause(paused)

    def stale_stages(self, limit: float) -> dict[Stage, float]:
        """Stages without progress for more than `limit` s (a hung model, camera or render loop)."""
        return self.heartbeats.stale(limit)

    def step(self) -> FrameReport:
        """Compose and present one frame (paced to display.max_fps)."""
        if not self._started:
            raise RuntimeError("MirrorLoop.start() must be called before step()")
        if self.frame == 0:
            self._nice.lower()  # this thread renders; the others were started with the process's nice
        t0, start = time.perf_counter(), time.monotonic()
        perception = self._newest_perception()
        grabbed = self._grabber.peek()
        self.frame += 1
        now = grabbed.timestamp if grabbed is not None else (perception.t if perception else 0.0)
        target = perception.target if perception is not None else NOBODY
        seen = perception.t if perception is not None and perception.visitor else None
        choice = self._director.decide(target, seen, now, self._photos)
        pose = self._carried(perception, grabbed.timestamp if grabbed else None, grabbed)
        changed = choice.content != self._shown_content
        self._shown_content = choice.content
        report = FrameReport(self.frame, perception.poses if perception else 0, pose, choice.entry,
                             self._distance(perception, choice.entry), choice.state, changed,
                             camera_seq=grabbed.seq if grabbed else 0, perception=perception, target=target,
                             camera_failures=self._grabber.total_failures)
        if self._shots is not None:
            self._shots.before_render(changed)
        t1 = time.perf_counter()
        same = (grabbed.seq if grabbed else 0, perception.seq if perception else 0, choice.content)
        if same == self._composed and not self._renderer.fading and not self.config.display.debug_overlay:
            report.composed = False  # nothing new to draw: present the same picture again
        else:
            self._surface = self._render(grabbed, pose, choice, perception, report)
            self._composed = same
            report.timings.update({f"render_{k}": v for k, v in self._renderer.timings.items()})
        ts = time.perf_counter()
        self.display.show(self._surface)
        t2, shown_at = time.perf_counter(), time.monotonic()
        report.timings["show"] = (t2 - ts) * 1000.0
        report.fading = self._renderer.fading
        report.timings.update(render=(t2 - t1) * 1000.0, decide=(t1 - t0) * 1000.0)
        self._switches.observe(perception)
        if changed and choice.state is MirrorState.RUNNING and choice.entry == self._switches.target.entry:
            ready = self._photos.ready_at(choice.entry)
            report.timings.update(self._switches.switched(start, shown_at, ready))
        if self._shots is not None:
            what = f"entry{choice.entry}" if choice.entry is not None else str(choice.state)
            self._shots.after_render(report.frame, changed, what, report.fading)
        if perception is not None:
            self._presented_seq = perception.seq
        self._poll_quit()
        self._pacer.wait()
        report.timings["frame"] = (time.perf_counter() - t0) * 1000.0
        self._stats.add({k: v for k, v in report.timings.items() if not is_switch_timing(k)})
        self.heartbeats.beat(Stage.RENDER)
        self._last_report = report
        return report

    def apply(self, config: KioskConfig | None = None, index: MatchIndex | None = None) -> None:
        """Swap in a new configuration and/or index (call between frames)."""
        if config is not None and config != self.config:
            old, self.config = self.config, config
            if replace(config.camera, mirror=old.camera.mirror, rotation=old.camera.rotation) != old.camera:
                log.warning("camera settings changed: source, size and failure limits apply "
                            "at the next restart")
            if (config.display.width, config.display.height) != (old.display.width, old.display.height):
                log.warning("display.width/height changed: the new size applies at the next restart")
            self._grabber.transform = _rotator(config.camera.rotation)
            with self._worker.lock:
                self._perceiver.configure(config)
                if (config.camera.mirror, config.camera.rotation) != (old.camera.mirror, old.camera.rotation):
                    self._perceiver.restart_visitor()  # past poses are in the old picture's pixels
                self._worker.mirror = config.camera.mirror
                if config.pose.flip_views != old.pose.flip_views:
                    self._worker.model = with_flip(self.model, config.pose.flip_views)
                if (config.pose.scale_views, config.pose.flip_views) != (old.pose.scale_views,
                                                                          old.pose.flip_views):
                    views = uses_scale_views(config.pose.scale_views, self._worker.model.family)
                    self._worker.scales = _scale_cycle(config, self.model) if views else None
                    self._perceiver.set_scale_views(views)
            self._renderer.keypoint_threshold = config.pose.keypoint_threshold
            self._renderer.configure(config.display)
            self._composed = ()  # compose the next frame anew
            self._director.configure(config.attract.idle_timeout_s, config.attract.slide_seconds)
            self._pacer.max_fps = config.display.max_fps
            self._photos.clear()  # the photo slot may have changed size
            self._set_index(self.index)
            log.info("configuration applied")
        if index is not None and index is not self.index:
            self._set_index(index)
            log.info("index %s applied (%d entries)", index.index_id, len(index))

    def close(self) -> None:
        """Stop the worker, the grabber and the loader, close the camera; save the last screen."""
        self._worker.stop()
        self._grabber.stop()
        self._nice.restore()
        try:
            self.camera.close()
        except Exception as exc:
            log.warning("closing %s: %s", self.camera.name, exc)
        self._photos.close()
        if self._shots is not None and self._last_report is not None:
            self._shots.close()

    # ---- helpers ------------------------------------------------------------------------------
    def _newest_perception(self) -> Perception | None:
        if not self.threaded:
            self._worker.run_once(self.config.camera.capture_timeout_s)  # CameraFailed, EndOfStream
            return self._worker.latest
        error = self._worker.error
        latest = self._worker.latest
        if error is not None:
            if not isinstance(error, EndOfStream) or latest is None or latest.seq == self._presented_seq:
                raise error  # CameraFailed at once; the end of a replay once its last pose is shown
        return latest

    def _on_perception(self, perception: Perception) -> None:
        """In the pose worker, once a perception is published: a new target ends the pacer's wait,
        so its photo (decoded before publishing) is presented at once, not at the next frame slot;
        a challenger's photo is loaded ahead."""
        if perception.target != self._wake_target:
            self._wake_target = perception.target
            self._pacer.wake()
        self._photos.anticipate(perception)

    def _carried(self, perception: Perception | None, t: float | None, grabbed: Any) -> Pose | None:
        if perception is None or perception.main is None:
            return None
        if t is None or grabbed is None or grabbed.frame.shape[1::-1] != perception.frame_size:
            return perception.main
        return carry(perception.main, perception.velocity, t - perception.t, MAX_CARRY_S)

    @staticmethod
    def _distance(perception: Perception | None, entry: int | None) -> float | None:
        """The distance of the photo on screen to the visitor's pose (else the best match's)."""
        if perception is None:
            return None
        if entry is not None and perception.target.entry == entry:
            return perception.target_distance
        if entry is None or perception.candidate.entry == entry:
            return perception.distance
        return None

    def _render(self, grabbed: Grabbed | None, pose: Pose | None, choice: Any, perception: Perception | None,
                report: FrameReport) -> Any:
        frame = grabbed.frame if grabbed is not None else None
        content = choice.content
        photo = None
        if choice.entry is not None:
            content = ("photo", self._photos.key(choice.entry))
            photo = self._photos.get(choice.entry)
        th = self.config.pose.keypoint_threshold
        scene = Scene(frame=frame, mirror=self.config.camera.mirror, pose=pose,
                      body=pose.bbox(th) if pose is not None and frame is not None else None,
                      frame_t=grabbed.timestamp if grabbed is not None else 0.0,
                      content=content, photo=photo,
                      caption=self._captions.for_entry(self.index, choice.entry),
                      step_back=perception is not None and perception.step_back and pose is not None,
                      attract=choice.state is MirrorState.IDLE, now=self.clock())
        if self.config.display.debug_overlay:
            scene.debug = partial(debug_lines, fps=self.fps, pose_rate=self.pose_rate, frame=report.frame,
                                  state=str(report.state), stage_ms=self.stage_ms,
                                  distance=report.distance, entry=report.shown_entry,
                                  index_id=self._index_id(), poses=report.poses)
        return self._renderer.render(scene)

    def _index_id(self) -> str | None:
        return None if self.index is None else self.index.index_id

    def _set_index(self, index: MatchIndex | None) -> None:
        self.index = index
        with self._worker.lock:
            self._perceiver.set_index(index)
            if self._started:
                self._perceiver.warm_up()
        self._director.reset(len(index) if index is not None else None)
        self._composed = ()
        self._captions.clear()
        self._photos.clear()

    def _poll_quit(self) -> None:
        """A window closed (or Esc) stops the kiosk like Ctrl-C: SIGINT, which the service handles."""
        try:
            quit_ = self.display.poll_quit()
        except Exception as exc:  # the event queue is no reason to stop the mirror
            log.debug("poll_quit failed: %s", exc)
            return
        if quit_:
            log.info("the window was closed (or Esc pressed): stopping")
            signal.raise_signal(signal.SIGINT)
