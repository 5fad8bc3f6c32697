"""A large in-memory gallery for benchmarks: a real index's entries plus synthetic poses.

Entries 0..n_real-1 are the real index's; the rest are plausible synthetic poses
(kiosk.match.synth) whose photos are the real renditions repeated. Matching runs on a VP-tree
over all the vectors, exactly as GalleryIndex does for a built index.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.pose.types import Pose

if TYPE_CHECKING:
    from kiosk.gallery.protocol import MatchIndex

log = logging.getLogger(__name__)


class BigIndex:
    def __init__(self, base: MatchIndex, size: int, seed: int = 0) -> None:
        from kiosk.match.synth import synth_vectors
        from kiosk.match.vptree import VPTree

        self.base = base
        n_real = len(base)
        if n_real == 0:
            raise ValueError("the base index is empty")
        size = max(int(size), n_real)
        t0 = time.perf_counter()
        synth, _ = synth_vectors(size - n_real, seed=seed)
        self._vectors = np.ascontiguousarray(np.concatenate([np.asarray(base.vectors()), synth]),
                                             dtype=np.float32)
        self._tree = VPTree.build(self._vectors, seed=seed)
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

        vec, conf = pose_vector(pose)
        return self.query_vector(vec, conf, k, metric, max_distance)

    def query_vector(self, vec: np.ndarray, conf: np.ndarray, k: int = 1, metric: str = "cosine",
                     max_distance: float = float("inf")) -> list[Any]:
        """As GalleryIndex.query_vector (cosine: the loop benchmark's metric)."""
        from kiosk.gallery.reader import Match

        ids, dists = self._tree.search(vec[None, :], k=k, max_distance=max_distance)
        return [Match(int(i), float(d)) for i, d in zip(ids[0], dists[0], strict=True) if i >= 0]

    def entry(self, entry_id: int) -> Any:
        return self.base.entry(entry_id % self.n_real)

    def rendition_path(self, entry_id: int) -> Path:
        return Path(self.base.rendition_path(entry_id % self.n_real))

    def close(self) -> None:
        self.base.close()
