"""`kiosk eval match`, calm part: photo changes while a visitor holds a pose, and how fast a
real move changes the photo, measured through the kiosk's own path from poses to the photo
(`kiosk.app.mirror.perceive.Perceiver`: tracking, person filter, smoothing and the Chooser).

A recording is cut into *held poses*: frames `spacing_s` apart. Each is held for `hold_s`
seconds of pose time at `fps`: every pose-time frame is the recorded frame slightly jittered
(a shift of up to 1.5% of the frame, a scale of up to 2%, sensor noise) and the pose model
runs on it again, so the keypoints jitter as a camera's do. The held poses are shown back to
back, as a visitor moving from one pose to the next and holding it.

- changes per hold: photo changes after the first `react_s` of a hold (should be <= 1);
- moves answered: of the holds whose own best photo (within match.max_distance, on its first
  three poses) differs from the photo on screen when they start, the
  share where the screen changes within `react_s` (300 ms) of pose time; *real* moves are those
  where the photo on screen no longer matches by the kiosk's own rule (beyond max_distance +
  hysteresis_margin, or worse than the best by the margin; or no photo and a match): a hold
  whose best photo is a near-tie of the shown one is a move, but keeping the photo is calm;
- blank frames: frames without a photo ("no good match" or nobody), over all holds, and over
  the holds the archive holds (their median best distance within match.max_distance) after
  their first `react_s`: the first is the archive's coverage, the second a flicker or
  threshold problem.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiosk.app.mirror.matcher import Matcher
from kiosk.app.mirror.perceive import Perceiver
from kiosk.app.service.config import KioskConfig, MatchConfig
from kiosk.gallery.extract import dominant
from kiosk.pose.scales import ScaleCycle
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)


def jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """rgb (H, W, 3) uint8 shifted, scaled and noised a little (a camera's frame-to-frame)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    s = 1.0 + rng.uniform(-0.02, 0.02)
    dx, dy = rng.uniform(-0.015, 0.015, 2) * (w, h)
    im = Image.fromarray(rgb).transform(
        (w, h), Image.Transform.AFFINE, (1 / s, 0, -dx, 0, 1 / s, -dy), Image.Resampling.BILINEAR)
    out = np.asarray(im, dtype=np.float32) + rng.normal(0.0, 3.0, (h, w, 3))
    return np.clip(out, 0, 255).astype(np.uint8)


def held_poses(frames: Sequence[np.ndarray], model: Any, fps: float, hold_s: float,
               seed: int = 0, scales: ScaleCycle | None = None) -> list[list[Pose | None]]:
    """For each frame, the poses of int(fps * hold_s) jittered copies (None: no person);
    scales: the kiosk's cycled sizes, in turn over all the copies (None: the copy as is)."""
    rng = np.random.default_rng(seed)
    n = max(round(fps * hold_s), 1)
    cycle = ScaleCycle((0.0,)) if scales is None else scales
    return [[dominant(cycle.estimate(model, jitter(f, rng)), 0.2) for _ in range(n)] for f in frames]


@dataclass
class CalmStats:
    holds: int
    changes_per_hold: float  # mean, after the first react_s
    max_changes_per_hold: int
    holds_over_one: int  # holds with more than one change after react_s (the target: none)
    moves: int  # holds whose best photo differs from the photo shown at their start
    moves_answered: float | None  # share changed within react_s (None: no move)
    real_moves: int  # holds where what is shown at their start no longer matches (see _Hold)
    real_moves_answered: float | None  # share changed within react_s (None: no real move)
    blank_frames: float  # share of frames showing no photo (no match / nobody)
    held: int  # holds the archive holds (median best distance within max_distance)
    blank_when_held: float | None  # share of their frames after react_s showing no photo (None: none)

    def to_dict(self) -> dict[str, Any]:
        return {"holds": self.holds, "changes_per_hold": round(self.changes_per_hold, 3),
                "max_changes_per_hold": self.max_changes_per_hold,
                "holds_over_one_change": self.holds_over_one, "moves": self.moves,
                "moves_answered_300ms": _share(self.moves_answered),
                "real_moves": self.real_moves,
                "real_moves_answered_300ms": _share(self.real_moves_answered),
                "blank_frames": round(self.blank_frames, 3), "held_by_archive": self.held,
                "blank_when_held": _share(self.blank_when_held)}


def _share(x: float | None) -> float | None:
    """A share for the report (3 decimals); None (JSON null) where nothing was counted."""
    return None if x is None else round(x, 3)


def kiosk_config(metric: str, match: MatchConfig) -> KioskConfig:
    """The default kiosk configuration with this metric and match section."""
    from dataclasses import replace

    from kiosk.app.service.config import parse_config

    base = parse_config({})
    return replace(base, match=match, index=replace(base.index, metric=metric))


@dataclass
class _Hold:
    """What the archive says about a hold, before the kiosk sees it (raw poses, no smoothing).

    move: a photo is shown and its first three poses' best photos all differ from it.
    real_move: the shown photo no longer matches: nothing is shown and the hold's first poses
    have a match, or the shown photo's median distance to them is beyond max_distance +
    margin or worse than their median best by the margin (the kiosk's own contract).
    held: the hold's median best distance is within max_distance.
    """

    move: bool
    real_move: bool
    held: bool


def _judge(probe: Matcher, hold: Sequence[Pose | None], shown: int | None,
           match: MatchConfig) -> _Hold:
    poses = [p for p in hold if p is not None]
    best, firsts, shown_d = [], [], []
    for k, p in enumerate(poses):
        found = probe.candidates(p, k=1)
        best.append(found[0][1] if found else np.inf)
        if k < 3:
            firsts.append(found[0][0] if found else None)
            if shown is not None:
                shown_d.append(probe.distance_to(shown))
    some = [f for f in firsts if f is not None]
    move = bool(some) and shown is not None and shown not in some
    first_best = float(np.median(best[:3])) if best else np.inf
    if shown is None:
        real = first_best <= match.max_distance
    else:
        d = float(np.median(shown_d)) if shown_d else np.inf
        real = first_best <= match.max_distance and (
            d > match.max_distance + match.hysteresis_margin
            or first_best + match.hysteresis_margin <= d)
    return _Hold(move, real, bool(best) and float(np.median(best)) <= match.max_distance)


def simulate(index: Any, metric: str, holds: Sequence[Sequence[Pose | None]], fps: float,
             match: MatchConfig, frame_size: tuple[int, int], react_s: float = 0.3,
             scale_views: bool = False) -> CalmStats:
    """Run the kiosk's Perceiver over the holds back to back (see the module doc).

    frame_size: (w, h) of the frames the poses were estimated on. scale_views: the holds' poses
    were estimated at the kiosk's cycled sizes (held_poses(scales=ScaleCycle())), so the
    Perceiver votes them as the kiosk does (kiosk.pose.scales).
    """
    perceiver = Perceiver(kiosk_config(metric, match), scale_views=scale_views)
    perceiver.set_index(index)
    probe = Matcher(index, metric, match.max_distance)
    dt = 1.0 / fps
    react_frames = int(np.floor(react_s / dt + 1e-9))
    t, changes, blank, total = 0.0, [], 0, 0
    moves, answered, real, real_answered = 0, 0, 0, 0
    held, held_blank, held_total = 0, 0, 0
    shown: int | None = None  # the entry on screen
    for hold in holds:
        judged = _judge(probe, hold, shown, match)
        late, early = 0, False
        for j, pose in enumerate(hold):
            target = perceiver.perceive([] if pose is None else [pose], frame_size, t).target
            t += dt
            changed, shown = target.entry != shown, target.entry
            total += 1
            blank += int(shown is None)
            if judged.held and j > react_frames:
                held_total += 1
                held_blank += int(shown is None)
            if changed and j > react_frames:
                late += 1
            elif changed:
                early = True
        changes.append(late)
        moves += int(judged.move)
        answered += int(judged.move and early)
        real += int(judged.real_move)
        real_answered += int(judged.real_move and early)
        held += int(judged.held)
    return CalmStats(len(holds), float(np.mean(changes)) if changes else 0.0,
                     max(changes, default=0), sum(c > 1 for c in changes), moves,
                     answered / moves if moves else None,
                     real, real_answered / real if real else None, blank / max(total, 1), held,
                     held_blank / held_total if held_total else None)
