"""Drawing skeletons on images (Pillow), using the shared SKELETON edges."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kiosk.pose.types import SKELETON, Pose

log = logging.getLogger(__name__)

#: one colour per pose (cycled)
COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 64, 64), (64, 200, 255), (80, 255, 80), (255, 200, 0), (255, 80, 255), (0, 255, 200),
)  # fmt: skip


def draw_poses(rgb: np.ndarray, poses: Sequence[Pose], min_score: float = 0.2) -> np.ndarray:
    """A copy of the (H, W, 3) uint8 frame with each pose's confident keypoints and bones drawn.

    Keypoints and bones whose keypoint scores are below min_score are left out.
    """
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    h, w = rgb.shape[:2]
    width = max(2, round(max(h, w) / 300))
    radius = width + 1
    for n, pose in enumerate(poses):
        colour = COLOURS[n % len(COLOURS)]
        ok = pose.confident(min_score)
        for a, b in SKELETON:
            if ok[a] and ok[b]:
                draw.line([tuple(pose.xy[a]), tuple(pose.xy[b])], fill=colour, width=width)
        for (x, y), good in zip(pose.xy.tolist(), ok.tolist(), strict=True):
            if good:
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255))
    return np.asarray(img)


def save_drawing(rgb: np.ndarray, poses: Sequence[Pose], dest: Path, min_score: float = 0.2) -> Path:
    """Draw poses on the frame and save it to dest (format from the suffix)."""
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw_poses(rgb, poses, min_score)).save(dest)
    return dest
