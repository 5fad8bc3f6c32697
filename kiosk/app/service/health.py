"""Is a stage of the loop failing frame after frame? Then the kiosk is degraded, not running.

The loop counts failures per stage (`stage_errors`: {"pose"|"match"|"render": count}) and keeps
each stage's last error message (`stage_last_error`). `StageHealth.update()` is called once per
stepped frame; a stage whose count grew on FAILING_FRAMES frames in a row is failing until a frame
passes without a new failure.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FAILING_FRAMES", "StageHealth"]

#: Consecutive failing frames before the status says degraded (a third of a second at 30 fps).
FAILING_FRAMES = 10


class StageHealth:
    def __init__(self, threshold: int = FAILING_FRAMES) -> None:
        self.threshold = threshold
        self._seen: dict[str, int] = {}
        self._streak: dict[str, int] = {}

    def update(self, errors: Mapping[str, int]) -> None:
        """Feed the loop's per-stage failure counters after a frame."""
        for stage, count in errors.items():
            grew = count > self._seen.get(stage, 0)
            self._streak[stage] = self._streak.get(stage, 0) + 1 if grew else 0
            self._seen[stage] = count

    def failing(self) -> list[str]:
        """Stages failing on at least `threshold` consecutive frames, in name order."""
        return sorted(s for s, n in self._streak.items() if n >= self.threshold)

    def describe(self, last_errors: Mapping[str, str]) -> str | None:
        """One sentence for the status's last_error, or None when every stage is healthy."""
        failing = self.failing()
        if not failing:
            return None
        parts = [f"{s} ({last_errors.get(s, 'see the journal')})" for s in failing]
        return (f"stage(s) failing on every frame for {self.threshold}+ frames: {'; '.join(parts)}. "
                "Check the index (kiosk index verify) and the model (kiosk doctor); "
                "journalctl -u move-mirror -p err has the traceback")
