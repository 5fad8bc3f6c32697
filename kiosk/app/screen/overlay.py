"""The debug overlay's text (display.debug_overlay): fps, per-stage ms, what is on screen."""

from __future__ import annotations

import logging
from collections.abc import Mapping

log = logging.getLogger(__name__)

STAGES = ("capture_wait", "preprocess", "invoke", "decode", "match", "render")


def debug_lines(fading: bool, *, fps: float, pose_rate: float, frame: int, state: str,
                stage_ms: Mapping[str, float], distance: float | None, entry: int | None,
                index_id: str | None, poses: int) -> list[str]:
    stages = "  ".join(f"{k} {stage_ms[k]:.1f}" for k in STAGES if k in stage_ms)
    dist = f"{distance:.3f}" if distance is not None else "-"
    shown = f"entry {entry}" + (" (fading in)" if fading else "") if entry is not None else "no photo"
    return [f"{fps:5.1f} fps  pose {pose_rate:4.1f}/s  frame {frame}  {state}",
            f"ms p50: {stages}",
            f"distance {dist}  {shown}  index {index_id or 'none'}  poses {poses}"]
