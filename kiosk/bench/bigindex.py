"""A large in-memory gallery for benchmarks: a real index's entries plus synthetic poses.

Entries 0..n_real-1 are the real index's; the rest are plausible synthetic poses
(kiosk.match.synth) whose photos are the real renditions repeated. Matching runs on a VP-tree
over all the vectors, and for the visible metric on one VP-tree per profile (built into a
temporary directory), exactly as GalleryIndex does for a built index; the calibration is
computed as the builder does. Each synthetic entry is its own source.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.match.metrics import PROFILE_METRICS, TRIMMED, VISIBLE
from kiosk.pose.types import Pose

if TYPE_CHECKING:
    from kiosk.gallery.protocol import MatchIndex

log = logging.getLogger(__name__)


class BigIndex:
    def __init__(self, base: MatchIndex, size: int, seed: int = 0) -> None:
        import tempfile

        from kiosk.gallery.visible_index import VisibleSearch, write_visible
        from kiosk.match.normalize import normalize_xy
        from kiosk.match.synth import synth_poses
        from kiosk.match.vptree import VPTree

        self.base = base
        n_real = len(base)
        if n_real == 0:
            raise ValueError("the base index is empty")
        size = max(int(size), n_real)
        t0 = time.perf_counter()
        xy, sc = synth_poses(size - n_real, seed=seed)
        synth = normalize_xy(xy, sc)
        self._vectors = np.ascontiguousarray(np.concatenate([np.asarray(base.vectors()), synth]),
                                             dtype=np.float32)
        self._keypoints = np.concatenate([np.asarray(base.keypoints(), dtype=np.float32),
                                          np.concatenate([xy, sc[..., None]], axis=2)])
        base_groups = base.groups()
        self._groups = np.concatenate([base_groups, base_groups.max(initial=-1) + 1
                                       + np.arange(size - n_real)])
        base_strands = base.strands()
        self._strands = np.concatenate([base_strands, base_strands.max(initial=-1) + 1
                                        + np.arange(size - n_real)])
        self._tree = VPTree.build(self._vectors, seed=seed)
        self._tmp = tempfile.TemporaryDirectory(prefix="kiosk-bigindex-")
        write_visible(Path(self._tmp.name), self._keypoints, seed=seed)
        self._visible = VisibleSearch(Path(self._tmp.name), self._keypoints, stored=True)
        self._calibration: dict[str, Any] | None = None
        from kiosk.gallery.calibrate import DynamicTables

        self._dynamic = DynamicTables(lambda: self._keypoints, lambda: self._groups)
        self.build_s = time.perf_counter() - t0
        self.n_real = n_real
        self.index_id = f"{base.index_id}+synth{size - n_real}"
        self.model_name = base.model_name
        self.display_size = base.display_size
        self.path: Path = base.path

    def __len__(self) -> int:
        return len(self._vectors)

    def vectors(self) -> np.ndarray:
        return self._vectors

    def query(self, pose: Pose, k: int = 1, metric: str = "cosine",
              max_distance: float = float("inf")) -> list[Any]:
        from kiosk.match.normalize import pose_vector

        if metric in PROFILE_METRICS:  # the Matcher's warm-up compiles the metric's own kernels
            return list(self.search(pose, k, metric, max_distance).matches)
        vec, conf = pose_vector(pose)
        return self.query_vector(vec, conf, k, metric, max_distance)

    def query_vector(self, vec: np.ndarray, conf: np.ndarray, k: int = 1, metric: str = "cosine",
                     max_distance: float = float("inf")) -> list[Any]:
        """As GalleryIndex.query_vector (cosine: the loop benchmark's metric)."""
        from kiosk.gallery.reader import Match

        ids, dists = self._tree.search(vec[None, :], k=k, max_distance=max_distance)
        return [Match(int(i), float(d)) for i, d in zip(ids[0], dists[0], strict=True) if i >= 0]

    def search(self, pose: Pose, k: int = 1, metric: str = "cosine",
               max_distance: float = float("inf")) -> Any:
        """As GalleryIndex.search."""
        from kiosk.gallery.reader import Found, Match

        if metric not in PROFILE_METRICS:
            return Found(None, self.query(pose, k, metric, max_distance))
        name, ids, dists = self._visible.search(pose.xy, pose.scores, k, max_distance,
                                                trimmed=metric == TRIMMED)
        return Found(name, [Match(int(i), float(d)) for i, d in zip(ids, dists, strict=True)
                            if i >= 0 and d <= max_distance])

    def distance(self, pose: Pose, entry_id: int, metric: str, profile: Any = None) -> float:
        """As GalleryIndex.distance, for the profile metrics (the Matcher's only use)."""
        if metric not in PROFILE_METRICS or profile is None:
            raise ValueError("BigIndex.distance answers the visible and trimmed metrics with a profile")
        return self._visible.distance(pose.xy, profile, entry_id, trimmed=metric == TRIMMED)

    def groups(self) -> np.ndarray:
        return self._groups

    def strands(self) -> np.ndarray:
        """The base index's strands; each synthetic pose its own."""
        return self._strands

    def keypoints(self) -> np.ndarray:
        return self._keypoints

    def calibration(self) -> dict[str, Any]:
        if self._calibration is None:
            from kiosk.gallery.calibrate import compute_calibration

            self._calibration = compute_calibration(self._vectors, self._keypoints[:, :, 2],
                                                    self._keypoints, self._groups)
        return self._calibration

    def profile_table(self, profile: str | tuple[int, ...], *, wait: bool = True,
                      metric: str = VISIBLE) -> list[float] | None:
        return self._dynamic.get(profile, wait=wait, metric=metric)

    def entry(self, entry_id: int) -> Any:
        return self.base.entry(entry_id % self.n_real)

    def rendition_path(self, entry_id: int) -> Path:
        return Path(self.base.rendition_path(entry_id % self.n_real))

    def close(self) -> None:
        self.base.close()
