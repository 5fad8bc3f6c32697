"""The index reader the kiosk uses: open (and check) an index directory, query it by pose.

    idx = GalleryIndex.open(Path("index/current"))
    for m in idx.query(pose, k=3):
        e = idx.entry(m.entry_id)   # caption: e.title, e.credit, e.licence, e.link
        path = idx.rendition_path(m.entry_id)  # already at idx.display_size

Opening is cheap: the manifest is self-checked, every listed file must exist with its recorded
size and the counts must agree (`verify=True` also checks every sha256, like `kiosk index
verify`). The vectors and the VP-tree are memory-mapped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kiosk.core.enums import Metric
from kiosk.gallery.manifest import IndexLoadError
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

__all__ = ["Entry", "GalleryIndex", "IndexLoadError", "Match"]



@dataclass(frozen=True)
class Entry:
    id: int
    source: str
    frame_time: float | None
    title: str
    credit: str
    licence: str
    link: str
    crop_box: tuple[float, float, float, float]
    rendition: Path
    keypoints: Pose  # rendition coordinates
    mirrored: bool


class Match(NamedTuple):
    entry_id: int
    distance: float


class GalleryIndex:
    """A built index, opened read-only."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        entries: list[dict[str, Any]],
        sources: list[dict[str, Any]],
        vectors: np.ndarray,
        keypoints: np.ndarray,
        tree: Any,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.index_id: str = manifest["index_id"]
        w, h = manifest["display_size"]
        self.display_size: tuple[int, int] = (int(w), int(h))
        self._entries = entries
        self._sources = sources
        self._vectors = vectors
        self._keypoints = keypoints
        self._tree = tree

    @property
    def model_name(self) -> str | None:
        """The pose model the index was built with (its manifest's model.name)."""
        name = (self.manifest.get("model") or {}).get("name")
        return str(name) if name else None

    @classmethod
    def open(cls, path: Path, *, verify: bool = False) -> GalleryIndex:
        """Open the index at path (a directory or a symlink to one, e.g. index/current).

        The check is kiosk.gallery.verify's, the one `kiosk index verify` runs (verify=True: deep).
        """
        from kiosk.gallery.verify import inspect_index

        path = Path(path).expanduser()
        data, found = inspect_index(path, deep=verify)
        if data is None:
            more = f" (and {len(found) - 1} more problem(s))" if len(found) > 1 else ""
            raise IndexLoadError(
                f"index {path}: {found[0]}{more}; run `kiosk index verify {path}` for the full"
                " list, then redeploy or rebuild the index"
            )
        log.debug("opened index %s (%d entries) at %s", data.manifest["index_id"], len(data.entries),
                  data.root)
        # Resolved, so that paths stay in this release even if a `current` symlink moves on.
        return cls(data.root, data.manifest, data.entries, data.sources, data.vectors, data.keypoints,
                   data.tree)

    def __len__(self) -> int:
        return len(self._entries)

    def query(
        self,
        pose: Pose,
        k: int = 1,
        metric: str = "cosine",
        max_distance: float = float("inf"),
    ) -> list[Match]:
        """The k nearest entries to the pose, nearest first (fewer if beyond max_distance).

        metric: "cosine" (Move Mirror's sqrt(2(1-cos)) on normalised vectors, VP-tree search)
        or "weighted" (Move Mirror's confidence-weighted distance).
        """
        from kiosk.match.normalize import pose_vector

        vec, conf = pose_vector(pose)
        return self.query_vector(vec, conf, k, metric, max_distance)

    def query_vector(
        self,
        vec: np.ndarray,
        conf: np.ndarray,
        k: int = 1,
        metric: str = "cosine",
        max_distance: float = float("inf"),
    ) -> list[Match]:
        """query() for a pose already normalised: vec (34,) from pose_vector, conf (17,)."""
        metric = Metric.parse(metric, "metric")
        if not len(self) or k <= 0:
            return []
        k = min(int(k), len(self))
        if metric == "cosine":
            if self._tree is not None:
                ids, dists = self._tree.search(vec[None, :], k=k, max_distance=max_distance)
            else:
                from kiosk.match.brute import brute_euclidean

                ids, dists = brute_euclidean(self._vectors, vec, k, max_distance)
        else:
            if self._tree is not None and hasattr(self._tree, "search_weighted"):
                ids, dists = self._tree.search_weighted(vec, conf, k=k, max_distance=max_distance)
            else:
                from kiosk.match.brute import brute_weighted

                ids, dists = brute_weighted(self._vectors, vec, conf, k, max_distance)
        ids, dists = np.asarray(ids).reshape(-1), np.asarray(dists).reshape(-1)
        return [
            Match(int(i), float(d))
            for i, d in zip(ids, dists, strict=True)
            if i >= 0 and d <= max_distance
        ]

    def entry(self, entry_id: int) -> Entry:
        if not 0 <= entry_id < len(self._entries):
            raise IndexError(f"entry {entry_id} out of range (index has {len(self)} entries)")
        e = self._entries[entry_id]
        s = self._sources[e["source"]]
        kp = np.asarray(self._keypoints[entry_id], dtype=np.float32)
        return Entry(
            id=entry_id,
            source=s["name"],
            frame_time=e["frame_time"],
            title=s.get("title", ""),
            credit=s.get("credit", ""),
            licence=s.get("licence", ""),
            link=s.get("link", ""),
            crop_box=tuple(float(v) for v in e["crop_box"]),  # type: ignore[arg-type]
            rendition=self.path / e["rendition"],
            keypoints=Pose(kp[:, :2], kp[:, 2], e.get("pose_score", float("nan"))),
            mirrored=bool(e["mirrored"]),
        )

    def rendition_path(self, entry_id: int) -> Path:
        if not 0 <= entry_id < len(self._entries):
            raise IndexError(f"entry {entry_id} out of range (index has {len(self)} entries)")
        return self.path / self._entries[entry_id]["rendition"]

    def vectors(self) -> np.ndarray:
        """(N, 34) float32 normalised pose vectors (memory-mapped, read-only)."""
        return self._vectors

    def close(self) -> None:
        """Drop the references to the memory-mapped arrays (the maps close when unreferenced)."""
        self._vectors = np.empty((0, self._vectors.shape[1]), np.float32)
        self._keypoints = np.empty((0, *self._keypoints.shape[1:]), np.float32)
        self._tree = None

    def source_records(self) -> list[dict[str, Any]]:
        return list(self._sources)
