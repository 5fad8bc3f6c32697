"""`kiosk eval match`, calm part: photo changes while a visitor holds a pose, and how fast a
real move changes the photo, measured with the kiosk's own decision logic (Chooser).

A recording is cut into *held poses*: frames `spacing_s` apart. Each is held for `hold_s`
seconds of pose time at `fps`: every pose-time frame is the recorded frame slightly jittered
(a shift of up to 1.5% of the frame, a scale of up to 2%, sensor noise) and the pose model
runs on it again, so the keypoints jitter as a camera's do. The held poses are shown back to
back, as a visitor moving from one pose to the next and holding it.

- changes per hold: photo changes after the first `react_s` of a hold (should be <= 1);
- moves answered: of the holds whose own best photo differs from the one on screen when they
  start, the share where the screen changes within `react_s` (300 ms) of pose time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiosk.app.mirror.chooser import make_chooser
from kiosk.app.service.config import MatchConfig
from kiosk.gallery.extract import dominant
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
               seed: int = 0) -> list[list[Pose | None]]:
    """For each frame, the poses of int(fps * hold_s) jittered copies (None: no person)."""
    rng = np.random.default_rng(seed)
    n = max(round(fps * hold_s), 1)
    return [[dominant(model.estimate(jitter(f, rng)), 0.2) for _ in range(n)] for f in frames]


@dataclass
class CalmStats:
    holds: int
    changes_per_hold: float  # mean, after the first react_s
    max_changes_per_hold: int
    moves: int  # holds whose best photo differs from the shown one at their start
    moves_answered: float  # share changed within react_s
    blank_frames: float  # share of frames showing no photo (no match / nobody)

    def to_dict(self) -> dict[str, Any]:
        return {"holds": self.holds, "changes_per_hold": round(self.changes_per_hold, 3),
                "max_changes_per_hold": self.max_changes_per_hold, "moves": self.moves,
                "moves_answered_300ms": round(self.moves_answered, 3),
                "blank_frames": round(self.blank_frames, 3)}


def simulate(index: Any, metric: str, holds: Sequence[Sequence[Pose | None]], fps: float,
             match: MatchConfig, react_s: float = 0.3) -> CalmStats:
    """Run the kiosk's chooser over the holds back to back (see the module doc)."""
    chooser = make_chooser(index, metric, match)
    probe = make_chooser(index, metric, match).matcher
    dt = 1.0 / fps
    react_frames = int(np.floor(react_s / dt + 1e-9))
    t, changes, moves, answered, blank, total = 0.0, [], 0, 0, 0, 0
    for hold in holds:
        firsts = [probe.best(p) for p in hold[:3] if p is not None]
        best = [b[0] for b in firsts if b is not None]
        shown_at_start = chooser.hysteresis.target.entry
        is_move = bool(best) and shown_at_start is not None and all(b != shown_at_start for b in best)
        late, early = 0, False
        for j, pose in enumerate(hold):
            d = chooser.update(pose, t)
            t += dt
            total += 1
            blank += int(not d.target.is_photo)
            if d.changed and j > react_frames:
                late += 1
            elif d.changed:
                early = True
        changes.append(late)
        moves += int(is_move)
        answered += int(is_move and early)
    return CalmStats(len(holds), float(np.mean(changes)) if changes else 0.0,
                     max(changes, default=0), moves, answered / moves if moves else float("nan"),
                     blank / max(total, 1))
