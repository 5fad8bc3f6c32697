"""Plausible synthetic poses from an articulated 3-D skeleton (for tests and benchmarks).

Uniform random 34-vectors are not poses: real poses live near a low-dimensional, clustered
manifold, which is what a VP-tree sees in a gallery. The generator:

- a 3-D skeleton (body height 1, y up, z forward) with COCO-17 keypoints; shoulder
  (flexion, abduction), elbow flexion, hip (flexion, abduction) and knee flexion drawn per
  limb within anatomical ranges: half the poses near a relaxed stance, half anywhere in range;
- the head turned and tilted a little; the torso leaning sideways and forwards;
- body yaw (rotation about the vertical), an in-plane camera roll, orthographic projection;
- a random scale (person 120..720 px tall) and position, keypoint noise (1-2 % of height);
- occlusion: some poses lose their legs (cut at the frame) and random keypoints are hidden:
  those get a low confidence (0..0.15) and a noisy position; visible ones 0.4..1.0.

Everything is vectorised numpy and deterministic for a seed.
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.match.normalize import DEFAULT_MIN_SCORE, normalize_xy

log = logging.getLogger(__name__)

_UP = np.array([0.0, 1.0, 0.0])


def _rot(v: np.ndarray, axis: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Rodrigues: rotate v (n, 3) about unit axis (n, 3) or (3,) by ang (n,) radians."""
    axis = np.broadcast_to(axis, v.shape)
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    dot = (axis * v).sum(axis=1, keepdims=True)
    return v * c + np.cross(axis, v) * s + axis * dot * (1 - c)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def _angles(rng: np.random.Generator, n: int, rest: float, lo: float, hi: float,
            relaxed: np.ndarray, spread: float = 15.0) -> np.ndarray:
    """Degrees -> radians: near `rest` for relaxed poses, uniform in [lo, hi] otherwise."""
    near = rest + rng.normal(0.0, spread, n)
    anywhere = rng.uniform(lo, hi, n)
    return np.radians(np.clip(np.where(relaxed, near, anywhere), lo, hi))


def _limb(rng: np.random.Generator, root: np.ndarray, side: float, relaxed: np.ndarray,
          arm: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mid joint, end joint) positions (n, 3) of an arm or a leg hanging from root."""
    n = len(root)
    if arm:
        flex = _angles(rng, n, 10, -50, 180, relaxed)
        abd = _angles(rng, n, 10, 0, 170, relaxed)
        bend = _angles(rng, n, 15, 0, 150, relaxed)
        l1, l2 = 0.17, 0.15
    else:
        flex = _angles(rng, n, 0, -30, 120, relaxed, 8.0)
        abd = _angles(rng, n, 5, -10, 60, relaxed, 5.0)
        bend = _angles(rng, n, 5, 0, 150, relaxed, 8.0)
        l1, l2 = 0.25, 0.24
    down = np.tile([0.0, -1.0, 0.0], (n, 1))
    d1 = _rot(down, np.array([0.0, 0.0, 1.0]), -side * abd)  # out to the side
    d1 = _rot(d1, np.array([1.0, 0.0, 0.0]), -flex)  # forwards
    # bend axis: perpendicular to the upper segment, twisted at random about it
    perp = _unit(np.cross(d1, np.tile([1.0, 0.0, 0.0], (n, 1))) + 1e-6)
    perp = _rot(perp, d1, rng.uniform(-0.6, 0.6, n) + (0.0 if arm else np.pi))
    d2 = _rot(d1, perp, bend if arm else -bend)
    mid = root + l1 * d1
    return mid, mid + l2 * d2


def skeleton_3d(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 17, 3) body-frame keypoints of random plausible poses (height ~1, y up)."""
    relaxed = rng.random(n) < 0.5
    pts = np.zeros((n, 17, 3))
    lean_side = np.radians(rng.normal(0, 8, n))
    lean_fwd = np.radians(np.clip(rng.normal(5, 15, n), -20, 80))
    hips_c = np.zeros((n, 3))
    spine = _rot(np.tile(_UP, (n, 1)), np.array([0.0, 0.0, 1.0]), lean_side)
    spine = _rot(spine, np.array([1.0, 0.0, 0.0]), lean_fwd)
    neck = hips_c + 0.5 * spine
    across = np.tile([1.0, 0.0, 0.0], (n, 1))
    across = _rot(across, np.array([0.0, 0.0, 1.0]), lean_side)
    for side, (sh, hp) in ((1.0, (5, 11)), (-1.0, (6, 12))):  # left = +x (faces the camera)
        pts[:, sh] = neck + side * 0.18 * across
        pts[:, hp] = hips_c + side * 0.10 * np.tile([1.0, 0.0, 0.0], (n, 1))
    for side, (sh, el, wr) in ((1.0, (5, 7, 9)), (-1.0, (6, 8, 10))):
        pts[:, el], pts[:, wr] = _limb(rng, pts[:, sh], side, relaxed, arm=True)
    for side, (hp, kn, an) in ((1.0, (11, 13, 15)), (-1.0, (12, 14, 16))):
        pts[:, kn], pts[:, an] = _limb(rng, pts[:, hp], side, relaxed, arm=False)
    # head: offsets from the neck, turned (yaw) and tilted (roll) a little
    head = np.array([[0, .13, .06], [.03, .15, .05], [-.03, .15, .05],
                     [.07, .14, 0.0], [-.07, .14, 0.0]])
    yaw = np.radians(rng.normal(0, 25, n))
    roll = np.radians(rng.normal(0, 10, n))
    for i, off in enumerate(head):
        o = _rot(np.tile(off, (n, 1)), _UP, yaw)
        o = _rot(o, np.array([0.0, 0.0, 1.0]), roll)
        pts[:, i] = neck + o + 0.05 * spine
    return pts


def synth_poses(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n random plausible poses in image pixels.

    Returns xy (n, 17, 2) float32 (x right, y down) and scores (n, 17) float32 in [0, 1].
    """
    rng = np.random.default_rng(seed)
    pts = skeleton_3d(n, rng).reshape(-1, 3)
    yaw = np.repeat(np.radians(np.clip(rng.normal(0, 40, n), -90, 90)), 17)
    pts = _rot(pts, _UP, yaw).reshape(n, 17, 3)
    roll = np.radians(rng.normal(0, 6, n))
    x, y = pts[..., 0], -pts[..., 1]  # orthographic, y down
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    x, y = c * x - s * y, s * x + c * y
    height = rng.uniform(120, 720, n)[:, None]
    noise = rng.normal(0, 1, (n, 17, 2)) * (rng.uniform(0.005, 0.02, n) * height[:, 0])[:, None, None]
    xy = np.stack([x, y], axis=-1) * height[..., None] + noise
    xy += rng.uniform(0, 1000, (n, 1, 2))
    scores = rng.uniform(0.4, 1.0, (n, 17))
    hidden = rng.random((n, 17)) < 0.08
    hidden[rng.random(n) < 0.15, 13:] = True  # legs cut off at the bottom of the frame
    scores = np.where(hidden, rng.uniform(0.0, 0.15, (n, 17)), scores)
    xy = np.where(hidden[..., None],
                  xy + rng.normal(0, 0.15, (n, 17, 2)) * height[..., None], xy)
    return xy.astype(np.float32), scores.astype(np.float32)


def synth_vectors(n: int, seed: int = 0, min_score: float = DEFAULT_MIN_SCORE
                  ) -> tuple[np.ndarray, np.ndarray]:
    """n normalised synthetic pose vectors (n, 34) float32 and confidences (n, 17) float32."""
    out = np.empty((n, 34), np.float32)
    conf = np.empty((n, 17), np.float32)
    chunk = 100_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        xy, sc = synth_poses(m, seed=seed * 1_000_003 + start)
        out[start : start + m] = normalize_xy(xy, sc, min_score)
        conf[start : start + m] = sc
    return out, conf
