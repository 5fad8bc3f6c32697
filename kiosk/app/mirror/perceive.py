"""From the model's poses to what the mirror wants: the visitor, the match and the target.

`Perceiver.perceive()` runs once per estimated camera frame (in the pose worker, or inline):
main person (tracking, with the person-plausibility filter), the votes over the worker's cycled
sizes (kiosk.pose.scales, pose.scale_views), One Euro smoothing, then the
kiosk's one decision for a pose, `kiosk.app.mirror.chooser.Chooser` (matcher -> variety ->
hysteresis, the object `kiosk eval match` measures too). It returns a frozen `Perception` the
render side reads without locks. No threads, no display: tests call it directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.app.mirror.chooser import Chooser, make_chooser
from kiosk.app.mirror.hysteresis import Decision
from kiosk.app.mirror.plausibility import PersonFilter
from kiosk.app.mirror.smoothing import PoseSmoother
from kiosk.app.mirror.target import NOBODY, Target
from kiosk.app.mirror.tracking import MainPersonTracker, body_cut_off
from kiosk.pose.scales import ScaleVotes
from kiosk.pose.types import Pose

if TYPE_CHECKING:
    from kiosk.app.service.config import KioskConfig

log = logging.getLogger(__name__)

#: the decision without an index: nobody to match, nothing to show
NOTHING = Decision(NOBODY, False, NOBODY, None, None)


@dataclass(frozen=True)
class Perception:
    """One estimated camera frame, as the mirror understood it."""

    seq: int  # 1, 2, ... per estimated frame
    camera_seq: int  # the grabber's seq of the frame
    t: float  # the frame's time (s; media time for a replay)
    captured_at: float  # time.monotonic() when the frame was captured
    frame_size: tuple[int, int]  # (w, h) of the frame, after camera.rotation
    poses: int  # people the model found
    main: Pose | None  # the visitor (smoothed; drawn), in the coordinates of the image as shown
    velocity: np.ndarray | None  # (17, 2) px/s of main's keypoints (smoothing state), for carrying
    visitor: bool  # a visitor is being tracked (present, or missing for a frame or two)
    candidate: Target  # this frame's best match (or NO_MATCH / NOBODY)
    distance: float | None  # the candidate's distance
    target: Target  # what the hysteresis wants on screen
    target_distance: float | None  # the target's distance to this pose
    step_back: bool  # the camera does not see the whole body
    timings: dict[str, float] = field(default_factory=dict)  # ms
    #: time.monotonic() when the pose worker took the frame, matched its pose and published this
    #: perception (0.0 when perceived directly): the parts of a photo switch's latency
    taken_at: float = 0.0
    matched_at: float = 0.0
    published_at: float = 0.0
    #: the pose matched: main, or with scale views the visitor's voted pose, smoothed (the
    #: skeleton drawn stays main: the votes trail a fast move by an estimate)
    query: Pose | None = None


class Perceiver:
    def __init__(self, config: KioskConfig, *, live: bool = False, scale_views: bool = False) -> None:
        """live: the running kiosk (a new visible profile is calibrated in the background rather
        than stalling the pose worker); offline (the benchmark) every decision is reproducible.
        scale_views: the poses come from frames estimated at cycled sizes (kiosk.pose.scales,
        uses_scale_views): the visitor's are voted."""
        self.live = live
        p = config.pose
        self.tracker = MainPersonTracker(min_pose_score=p.min_pose_score,
                                         keypoint_threshold=p.keypoint_threshold,
                                         min_confident_keypoints=p.min_confident_keypoints,
                                         person_filter=PersonFilter(p.person_frames))
        s = p.smoothing
        self.smoother = PoseSmoother(s.min_cutoff, s.beta, s.d_cutoff, s.enabled)
        #: with scale views, the voted pose's own smoothing (the one matched; main is drawn)
        self.query_smoother = PoseSmoother(s.min_cutoff, s.beta, s.d_cutoff, s.enabled)
        #: the visitor's poses at the worker's cycled sizes, voted (None: no scale views)
        self.votes: ScaleVotes | None = ScaleVotes() if scale_views else None
        self.config = config
        self.chooser: Chooser | None = None  # None: no index
        self._seq = 0

    def configure(self, config: KioskConfig) -> None:
        p = config.pose
        self.tracker.configure(p.min_pose_score, p.keypoint_threshold, p.min_confident_keypoints)
        s = p.smoothing
        self.smoother.configure(s.min_cutoff, s.beta, s.d_cutoff, s.enabled)
        self.query_smoother.configure(s.min_cutoff, s.beta, s.d_cutoff, s.enabled)
        if p.person_frames != self.config.pose.person_frames:
            self.tracker.person_filter = PersonFilter(p.person_frames)
        old, self.config = self.config, config
        if self.chooser is not None and (config.match, config.index.metric) != (old.match, old.index.metric):
            self.set_index(self.chooser.matcher.index)

    def restart_visitor(self) -> None:
        """Forget the visitor's past poses (votes, smoothing): the camera's picture changed."""
        self.smoother.reset()
        self.query_smoother.reset()
        if self.votes is not None:
            self.votes.reset()

    def set_scale_views(self, on: bool) -> None:
        """Vote the visitor's poses (the worker cycles sizes) or not, from the next frame."""
        if on != (self.votes is not None):
            self.votes = ScaleVotes() if on else None
            self.query_smoother.reset()

    def set_index(self, index: Any | None) -> None:
        """Match against `index` from the next frame (None: no index). Call warm_up() after."""
        self.chooser = None
        if index is not None:
            self.chooser = make_chooser(index, self.config.index.metric, self.config.match,
                                        wait_for_tables=not self.live)

    def warm_up(self) -> None:
        """Compile the search kernels now (a query), not on the first visitor."""
        if self.chooser is not None:
            self.chooser.matcher.warm_up()

    def perceive(self, poses: Sequence[Pose], frame_size: tuple[int, int], t: float, *, camera_seq: int = 0,
                 captured_at: float = 0.0, timings: dict[str, float] | None = None) -> Perception:
        """poses: the model's people in the coordinates of the image as shown (mirrored if so)."""
        self._seq += 1
        w, h = frame_size
        main, query = self._visitor(poses, w, h, t)
        decision = NOTHING if self.chooser is None else self.chooser.update(query, t)
        step_back = main is not None and body_cut_off(main, w, h, self.config.pose.keypoint_threshold)
        return Perception(self._seq, camera_seq, t, captured_at, (w, h), len(poses), main,
                          self.smoother.velocity if main is not None else None,
                          self.tracker.track is not None, decision.candidate,
                          decision.candidate_distance, decision.target, decision.shown_distance,
                          step_back, dict(timings or {}), query=query)

    def _visitor(self, poses: Sequence[Pose], w: int, h: int, t: float
                 ) -> tuple[Pose | None, Pose | None]:
        """The tracked visitor this frame: (drawn, matched), both smoothed; matched is voted
        with scale views, else the drawn pose itself (None, None: nobody, or missing this frame)."""
        track = self.tracker.update(poses, w, h)
        if track is None:
            if self.votes is not None:  # the window holds one pose per frame in a row
                self.votes.reset()
            if self.tracker.track is None:
                self.smoother.reset()
                self.query_smoother.reset()
            return None, None
        drawn = self.smoother(track.pose, track.id, t)
        if self.votes is None:
            return drawn, drawn
        return drawn, self.query_smoother(self.votes(track.pose, track.id), track.id, t)
