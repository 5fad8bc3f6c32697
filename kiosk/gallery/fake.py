"""`FakeIndex`: the in-memory twin of `GalleryIndex` (a `MatchIndex`), for tests and demos.

Entries are the given poses, each with a solid-colour rendition written under `root`; queries
are brute force: over the normalised vectors (cosine distance) for cosine and weighted, over the
keypoints (kiosk.match.visible) for visible. Each entry is its own source; it is uncalibrated
(the config's match distances are raw distances).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kiosk.gallery.reader import Found
from kiosk.match import cosine_distance, pose_vector
from kiosk.match.metrics import PROFILE_METRICS, TRIMMED, VISIBLE, WEIGHTED
from kiosk.match.normalize import DIMS
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FakeEntry:
    id: int
    title: str
    credit: str
    licence: str
    keypoints: Pose
    rendition: Path


class FakeMatch(NamedTuple):
    entry_id: int
    distance: float


class FakeIndex:
    """A MatchIndex over in-memory poses and solid-colour renditions (`colours[i]` is entry i's).

    `queries` counts queries; `closed` tells whether close() was called.
    """

    def __init__(self, root: Path, poses: Sequence[Pose], size: tuple[int, int] = (960, 1080),
                 index_id: str = "fake-1") -> None:
        from PIL import Image

        self.path = Path(root)
        self.index_id = index_id
        self.model_name: str | None = None  # the pose model the index was built with
        self.display_size = size
        self.entries: list[FakeEntry] = []
        self.path.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(7)
        self.colours = [tuple(int(v) for v in rng.integers(30, 230, 3)) for _ in poses]
        for i, p in enumerate(poses):
            rendition = self.path / f"{i:04d}.png"
            Image.new("RGB", size, self.colours[i]).save(rendition)
            self.entries.append(FakeEntry(i, f"Photo {i}", f"Archive {i}", "CC0", p, rendition))
        vectors = [pose_vector(p)[0] for p in poses]
        self._vectors = np.stack(vectors).astype(np.float32) if vectors else np.zeros((0, DIMS), np.float32)
        self.queries = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self.entries)

    def vectors(self) -> np.ndarray:
        return self._vectors

    def query(self, pose: Pose, k: int = 1, metric: str = "cosine",
              max_distance: float = float("inf")) -> list[FakeMatch]:
        return self.query_vector(*pose_vector(pose), k=k, metric=metric, max_distance=max_distance)

    def query_vector(self, vec: np.ndarray, conf: np.ndarray, k: int = 1, metric: str = "cosine",
                     max_distance: float = float("inf")) -> list[FakeMatch]:
        self.queries += 1
        if not len(self):
            return []
        d = np.asarray(cosine_distance(vec, self._vectors))
        order = np.argsort(d)[:k]
        return [FakeMatch(int(i), float(d[i])) for i in order if d[i] <= max_distance]

    def _keypoints(self) -> np.ndarray:
        return np.stack([np.concatenate([e.keypoints.xy, e.keypoints.scores[:, None]], axis=1)
                         for e in self.entries])

    def search(self, pose: Pose, k: int = 1, metric: str = "cosine",
               max_distance: float = float("inf")) -> Found:
        """As GalleryIndex.search."""
        from kiosk.match.trimmed import brute_trimmed
        from kiosk.match.visible import brute_visible

        if metric not in PROFILE_METRICS:
            return Found(None, self.query(pose, k, metric, max_distance))
        self.queries += 1
        if not len(self):
            return Found(None, [])
        kp = self._keypoints()
        brute = brute_trimmed if metric == TRIMMED else brute_visible
        profile, ids, d = brute(kp[:, :, :2], kp[:, :, 2], pose.xy, pose.scores, k)
        return Found(profile, [FakeMatch(int(i), float(x)) for i, x in zip(ids, d, strict=True)
                               if i >= 0 and x <= max_distance])

    def distance(self, pose: Pose, entry_id: int, metric: str,
                 profile: str | tuple[int, ...] | None = None) -> float:
        """As GalleryIndex.distance."""
        from kiosk.match.distance import weighted_distance
        from kiosk.match.trimmed import trimmed_distances
        from kiosk.match.visible import eligible, visible_distance

        e = self.entries[entry_id].keypoints
        if metric not in PROFILE_METRICS:
            vec, conf = pose_vector(pose)
            g = self._vectors[entry_id]
            return float(weighted_distance(vec, conf, g) if metric == WEIGHTED
                         else cosine_distance(vec, g))
        if profile is None or not eligible(e.scores, profile)[0]:
            return float("inf")
        if metric == TRIMMED:
            return float(trimmed_distances(pose.xy, e.xy[None], profile)[0])
        return float(visible_distance(pose.xy, e.xy, profile))

    def groups(self) -> np.ndarray:
        return np.arange(len(self.entries))

    def strands(self) -> np.ndarray:
        return np.arange(len(self.entries))

    def calibration(self) -> dict[str, Any]:
        """Uncalibrated: the config's match distances are raw distances."""
        return {}

    def profile_table(self, profile: str | tuple[int, ...], *, wait: bool = True,
                      metric: str = VISIBLE) -> None:
        return None

    def keypoints(self) -> np.ndarray:
        return self._keypoints() if self.entries else np.zeros((0, 17, 3), np.float32)

    def entry(self, entry_id: int) -> FakeEntry:
        return self.entries[entry_id]

    def rendition_path(self, entry_id: int) -> Path:
        return self.entries[entry_id].rendition

    def close(self) -> None:
        self.closed = True
