"""The mirror: newest camera frame -> pose -> main person -> match -> photo on screen.

    loop = MirrorLoop(config, camera, model, index, display, screenshots=None)
    while True:
        report = loop.step()     # one frame; raises CameraFailed (exit for systemd), EndOfStream
    loop.close()

`apply(config, index)` swaps a new configuration and/or index in between frames (SIGHUP).
A failing stage (pose, match, render) is logged and the frame goes on without it; only the
camera can end the loop. index=None shows a "no index loaded" screen (state "searching").

Time (crossfades, the idle timeout, slides) is frame time: the grabber's timestamp, which is the
media time for a replay, so a replay run as fast as possible behaves like the recording.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.app.devices.camera.grabber import FrameGrabber, Grabbed
from kiosk.app.devices.camera.source import CameraSource
from kiosk.app.devices.display.base import Display
from kiosk.app.mirror.attract import Slideshow
from kiosk.app.mirror.hysteresis import NO_MATCH, NOBODY, Hysteresis
from kiosk.app.mirror.matcher import Matcher
from kiosk.app.mirror.smoothing import PoseSmoother
from kiosk.app.mirror.tracking import MainPersonTracker, body_cut_off
from kiosk.app.modelinput import ModelInput
from kiosk.app.modelinput import warm_up as model_input_warm_up
from kiosk.app.screen.blit import warm_up as blit_warm_up
from kiosk.app.screen.imagecache import ImageCache, load_photo
from kiosk.app.screen.render import Renderer, Scene
from kiosk.app.screen.screenshots import Screenshots
from kiosk.app.service.config import KioskConfig
from kiosk.app.stats import StageStats
from kiosk.gallery.protocol import MatchIndex
from kiosk.pose.model import PoseModel
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

STATES = ("running", "no_match", "idle", "searching")


@dataclass
class FrameReport:
    frame: int
    poses: int
    main_pose: Pose | None
    shown_entry: int | None
    distance: float | None
    state: str  # "running" | "no_match" | "idle" | "searching"
    changed: bool  # the shown photo changed on this frame
    timings: dict[str, float] = field(default_factory=dict)  # ms


def _rotator(degrees: int) -> Any:
    turns = (-(degrees // 90)) % 4  # np.rot90 turns counter-clockwise; camera.rotation is clockwise
    if not turns:
        return None
    return lambda a: np.ascontiguousarray(np.rot90(a, turns))


class MirrorLoop:
    def __init__(self, config: KioskConfig, camera: CameraSource, model: PoseModel, index: MatchIndex | None,
                 display: Display, *, screenshots: Path | None = None) -> None:
        self.config = config
        self.camera = camera
        self.model = model
        self.index = index
        self.display = display
        self.screenshots = Path(screenshots) if screenshots else None
        self._shots = Screenshots(self.screenshots, display) if self.screenshots else None
        p = config.pose
        self._tracker = MainPersonTracker(min_pose_score=p.min_pose_score,
                                          keypoint_threshold=p.keypoint_threshold,
                                          min_confident_keypoints=p.min_confident_keypoints)
        s = p.smoothing
        self._smoother = PoseSmoother(s.min_cutoff, s.beta, s.d_cutoff, s.enabled)
        self._hyst = Hysteresis(config.match.hysteresis_margin, config.match.hysteresis_frames)
        self._renderer = Renderer(config.display, display.size, keypoint_threshold=p.keypoint_threshold,
                                  target=getattr(display, "canvas", None))
        #: photos are converted to the canvas's pixel format (a 1x1 template made here, in the main thread)
        self._photo_format = self._renderer.pixel_format()
        self._cache = ImageCache(self._load)
        self._stats = StageStats()
        self._matcher: Matcher | None = None
        self._slides = Slideshow(0, config.attract.slide_seconds)
        self._set_index(index)
        self.frame = 0
        self.stage_errors: dict[str, int] = {}  # failures per stage (the service's StageHealth)
        self.stage_last_error: dict[str, str] = {}
        self._last_visitor: float | None = None  # frame time (s) a visitor was last seen
        self._shown: int | None = None
        self._shown_surface: Any = None
        self._content: Hashable = ("panel", "prompt")
        self._caption: tuple[int, tuple[str, str] | None] = (-1, None)
        self._last: Grabbed | None = None
        self._last_report: FrameReport | None = None
        self._last_end = 0.0
        self._grabber = FrameGrabber(camera, timeout=config.camera.capture_timeout_s,
                                     max_failures=config.camera.max_failures,
                                     transform=_rotator(config.camera.rotation),
                                     model_input=ModelInput(getattr(model, "input_size", None),
                                                            getattr(model, "preprocess", "default")))
        blit_warm_up()  # numba kernels: compiled (or loaded) now, not during the first frames
        model_input_warm_up()
        self._grabber.start()

    # ---- public ------------------------------------------------------------------------------
    @property
    def fps(self) -> float:
        return self._stats.fps

    @property
    def stage_ms(self) -> dict[str, float]:
        return self._stats.percentile(50)

    def stage_percentile(self, q: float) -> dict[str, float]:
        return self._stats.percentile(q)

    @property
    def grabber(self) -> FrameGrabber:
        return self._grabber

    def step(self) -> FrameReport:
        t0 = time.perf_counter()
        grabbed = self._grabber.get(self.config.camera.capture_timeout_s)  # CameraFailed, EndOfStream
        t1 = time.perf_counter()
        timings = {"capture_wait": (t1 - t0) * 1000.0}
        if grabbed is None:  # the camera is slow: keep the screen alive, the grabber counts failures
            return self._repeat(timings)
        self.frame += 1
        self._last = grabbed
        frame = grabbed.frame
        h, w = frame.shape[:2]
        timings["prepare"] = grabbed.prepare_ms  # in the capture thread, in parallel with the loop
        poses = self._stage("pose", self._estimate, grabbed, w, timings) or []
        t2 = time.perf_counter()
        timings["pose"] = (t2 - t1) * 1000.0
        main, candidate, distance = self._stage("match", self._match, poses, w, h, grabbed.timestamp) or (
            None, NOBODY, None)
        shown_distance = self._matcher.distance_to if self._matcher else None
        decision = self._hyst.update(candidate, distance, shown_distance)
        now = grabbed.timestamp  # frame time: media time for a replay, so it paces like the recording
        if self._last_visitor is None:
            self._last_visitor = now
        if main is not None or self._tracker.track is not None:
            self._last_visitor = now
            self._slides.stop()
        state = self._choose_content(decision.target, now)
        t3 = time.perf_counter()
        timings["match"] = (t3 - t2) * 1000.0
        step_back = main is not None and body_cut_off(main, w, h, self.config.pose.keypoint_threshold)
        shown_d = self._distance(state, candidate, distance)
        report = FrameReport(self.frame, len(poses), main, self._shown, shown_d, state, False, timings)
        prev_shown = self._last_report.shown_entry if self._last_report else None
        report.changed = self._shown != prev_shown
        if self._shots is not None:
            self._shots.before_render(report.changed)
        self._stage("render", self._render, frame, main, step_back, state == "idle", report, now)
        t4 = time.perf_counter()
        timings["render"] = (t4 - t3) * 1000.0
        timings["total"] = (t4 - t0) * 1000.0
        if self._shots is not None:
            self._shots.after_render(report.frame, report.changed, report.shown_entry, report.state,
                                     self._renderer.fading)
        self._poll_quit()
        self._pace()
        self._stats.add(timings)
        self._last_report = report
        return report

    def apply(self, config: KioskConfig | None = None, index: Any | None = None) -> None:
        """Swap in a new configuration and/or index (call between frames)."""
        if config is not None and config != self.config:
            old, self.config = self.config, config
            if replace(config.camera, mirror=old.camera.mirror, rotation=old.camera.rotation) != old.camera:
                log.warning("camera settings changed: source, size and failure limits apply "
                            "at the next restart")
            if (config.display.width, config.display.height) != (old.display.width, old.display.height):
                log.warning("display.width/height changed: the new size applies at the next restart")
            self._grabber.transform = _rotator(config.camera.rotation)
            p = config.pose
            self._tracker.configure(p.min_pose_score, p.keypoint_threshold, p.min_confident_keypoints)
            s = p.smoothing
            self._smoother.configure(s.min_cutoff, s.beta, s.d_cutoff, s.enabled)
            self._hyst.configure(config.match.hysteresis_margin, config.match.hysteresis_frames)
            self._renderer.keypoint_threshold = p.keypoint_threshold
            self._renderer.configure(config.display)
            self._slides.slide_seconds = config.attract.slide_seconds
            self._cache.clear()  # the photo slot may have changed size
            self._set_index(self.index)
            log.info("configuration applied")
        if index is not None and index is not self.index:
            self._set_index(index)
            log.info("index %s applied (%d entries)", getattr(index, "index_id", "?"), len(index))

    def close(self) -> None:
        """Stop the grabber and the loader, close the camera; save the last screen if asked."""
        self._grabber.stop()
        try:
            self.camera.close()
        except Exception as exc:
            log.warning("closing %s: %s", self.camera.name, exc)
        self._cache.close()
        if self._shots is not None and self._last_report is not None:
            self._shots.close()

    # ---- stages ------------------------------------------------------------------------------
    def _stage(self, name: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            n = self.stage_errors[name] = self.stage_errors.get(name, 0) + 1
            self.stage_last_error[name] = f"{type(exc).__name__}: {exc}"
            if n == 1 or n % 100 == 0:
                log.error("%s stage failed on frame %d (%d so far): %s", name, self.frame, n, exc,
                          exc_info=n == 1)
            return None

    def _estimate(self, grabbed: Grabbed, w: int, timings: dict[str, float]) -> list[Pose]:
        small = grabbed.model_frame
        poses = self.model.estimate(grabbed.frame if small is None else small)
        for k, v in (getattr(self.model, "last_timings", None) or {}).items():
            timings[k] = float(v)
        if small is not None and grabbed.model_scale != 1:
            poses = [p.scaled(grabbed.model_scale) for p in poses]
        if self.config.camera.mirror:
            poses = [p.flipped(w) for p in poses]
        return poses

    def _match(self, poses: list[Pose], w: int, h: int, t: float) -> tuple[Pose | None, int, float | None]:
        track = self._tracker.update(poses, w, h)
        if track is None:
            if self._tracker.track is None:
                self._smoother.reset()
            return None, NOBODY, None
        main = self._smoother(track.pose, track.id, t)
        if self._matcher is None:
            return main, NOBODY, None
        best = self._matcher.best(main)
        if best is None:
            return main, NO_MATCH, None
        self._cache.request(self._key(best[0]))
        return main, best[0], best[1]

    def _distance(self, state: str, candidate: int, distance: float | None) -> float | None:
        """The distance of the photo on screen to the visitor's pose (else the best match's)."""
        if state != "running" or self._shown is None or self._matcher is None:
            return distance
        if self._shown == candidate:
            return distance
        try:
            return self._matcher.distance_to(self._shown)
        except Exception as exc:  # only a number for the overlay and the report
            log.debug("distance to entry %s: %s", self._shown, exc)
            return None

    def _choose_content(self, target: int, now: float) -> str:
        if self.index is None:
            self._set_shown(None, ("panel", "no_index"))
            return "searching"
        since = now - (self._last_visitor if self._last_visitor is not None else now)
        idle = target == NOBODY and since >= self.config.attract.idle_timeout_s
        if idle:
            nxt = self._slides.next
            ready = nxt is not None and self._cache.get(self._key(nxt)) is not None
            slide = self._slides.tick(now, ready)
            if slide is not None and self._show_photo(slide):
                return "idle"
            if self._slides.current is not None:
                self._cache.request(self._key(self._slides.current))
            return "idle"
        if target >= 0:
            self._show_photo(target)  # keeps the previous content until the photo is loaded
            return "running" if self._shown is not None else "searching"
        if target == NO_MATCH:
            self._set_shown(None, ("panel", "no_match"))
            return "no_match"
        self._set_shown(None, ("panel", "prompt"))
        return "searching"

    def _show_photo(self, entry: int) -> bool:
        if entry == self._shown:
            return True
        surface = self._cache.get(self._key(entry))
        if surface is None:
            return False
        self._set_shown(entry, ("photo", self._key(entry)), surface)
        return True

    def _set_shown(self, entry: int | None, content: Hashable, surface: Any = None) -> None:
        self._shown, self._content, self._shown_surface = entry, content, surface

    def _render(self, frame: np.ndarray, main: Pose | None, step_back: bool, attract: bool,
                report: FrameReport, now: float) -> None:
        scene = Scene(frame=frame, mirror=self.config.camera.mirror, pose=main, content=self._content,
                      photo=self._shown_surface, caption=self._caption_for(self._shown),
                      step_back=step_back, attract=attract, now=now)
        if self.config.display.debug_overlay:
            scene.debug = self._debug_lines(report)
        self.display.show(self._renderer.render(scene))

    def _caption_for(self, entry: int | None) -> tuple[str, str] | None:
        if entry is None or self.index is None:
            return None
        if self._caption[0] != entry:
            e = self.index.entry(entry)
            credit = " · ".join(s for s in (e.credit, e.licence) if s)
            self._caption = (entry, (e.title, credit))
        return self._caption[1]

    def _debug_lines(self, r: FrameReport) -> list[str]:
        p50 = self.stage_ms
        stages = "  ".join(f"{k} {p50[k]:.1f}" for k in ("capture_wait", "preprocess", "invoke", "decode",
                                                         "match", "render") if k in p50)
        index_id = getattr(self.index, "index_id", "none") if self.index is not None else "none"
        dist = f"{r.distance:.3f}" if r.distance is not None else "-"
        return [f"{self.fps:5.1f} fps  frame {r.frame}  {r.state}",
                f"ms p50: {stages}",
                f"distance {dist}  entry {r.shown_entry}  index {index_id}  poses {r.poses}"]

    # ---- helpers ------------------------------------------------------------------------------
    def _set_index(self, index: Any | None) -> None:
        self.index = index
        self._matcher = None
        if index is not None:
            self._matcher = Matcher(index, self.config.index.metric, self.config.match.max_distance)
            self._matcher.warm_up()
        self._hyst.reset()
        self._shown = None
        self._shown_surface = None
        self._content = ("panel", "prompt")
        self._caption = (-1, None)
        self._cache.clear()
        self._slides.reset(len(index) if index is not None else 0)

    def _key(self, entry: int) -> Hashable:
        return (getattr(self.index, "index_id", id(self.index)), entry, self._renderer.photo_slot)

    def _load(self, key: Hashable) -> Any:
        index_id, entry, slot = key  # type: ignore[misc]
        index = self.index
        if index is None or getattr(index, "index_id", id(index)) != index_id:
            raise LookupError(f"index {index_id} is no longer loaded")
        return load_photo(index.rendition_path(entry), slot, self._photo_format)

    def _repeat(self, timings: dict[str, float]) -> FrameReport:
        last = self._last_report
        if last is None:
            return FrameReport(self.frame, 0, None, None, None, "searching", False, timings)
        return replace(last, changed=False, timings=timings)

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

    def _pace(self) -> None:
        max_fps = self.config.display.max_fps
        now = time.perf_counter()
        if max_fps > 0 and self._last_end:
            wait = 1.0 / max_fps - (now - self._last_end)
            if wait > 0:
                time.sleep(wait)
                now = time.perf_counter()
        self._last_end = now
