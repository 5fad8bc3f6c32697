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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from kiosk.core.enums import Metric
from kiosk.gallery.manifest import IndexLoadError
from kiosk.match.metrics import COSINE, PROFILE_METRICS, TRIMMED, VISIBLE, check_metric
from kiosk.pose.types import Pose

if TYPE_CHECKING:
    from kiosk.gallery.protocol import IndexMatch

log = logging.getLogger(__name__)

__all__ = ["Entry", "Found", "GalleryIndex", "IndexLoadError", "Match"]



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


class Found(NamedTuple):
    """A search's answer: the visible profile used (None for cosine/weighted, or a pose
    showing no profile) and the matches, nearest first."""

    profile: str | tuple[int, ...] | None
    matches: Sequence[IndexMatch]


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
        self._calibration: dict[str, Any] | None = manifest.get("calibration")
        from kiosk.gallery.calibrate import DynamicTables

        self._dynamic_tables = DynamicTables(lambda: self._keypoints, self.groups)
        from kiosk.gallery.visible_index import VisibleSearch

        stored = int(manifest.get("format_version", 1)) >= 2
        self._visible = VisibleSearch(path, keypoints, stored=stored)

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
        metric: str = COSINE,
        max_distance: float = float("inf"),
    ) -> list[Match]:
        """The k nearest entries to the pose, nearest first (fewer if beyond max_distance).

        metric: "cosine" (Move Mirror's sqrt(2(1-cos)) on normalised vectors, VP-tree search),
        "weighted" (Move Mirror's confidence-weighted distance), "visible" (the keypoints
        the camera sees, kiosk.match.visible) or "trimmed" (visible forgiving a few misplaced
        keypoints, kiosk.match.trimmed).
        """
        return [Match(m.entry_id, m.distance) for m in self.search(pose, k, metric, max_distance).matches]

    def search(self, pose: Pose, k: int = 1, metric: str = COSINE,
               max_distance: float = float("inf")) -> Found:
        """query() with the visible profile used (see Found)."""
        check_metric(metric)
        if metric in PROFILE_METRICS:
            if not len(self) or k <= 0:
                return Found(None, [])
            name, ids, dists = self._visible.search(pose.xy, pose.scores, int(k), max_distance,
                                                    trimmed=metric == TRIMMED)
            return Found(name, [Match(int(i), float(d)) for i, d in zip(ids, dists, strict=True)
                                if i >= 0 and d <= max_distance])
        from kiosk.match.normalize import pose_vector

        vec, conf = pose_vector(pose)
        return Found(None, self.query_vector(vec, conf, k, metric, max_distance))

    def distance(self, pose: Pose, entry_id: int, metric: str,
                 profile: str | tuple[int, ...] | None = None) -> float:
        """The distance of one entry to the pose (visible: under the given profile)."""
        from kiosk.match.distance import cosine_distance, weighted_distance
        from kiosk.match.normalize import pose_vector
        from kiosk.match.visible import choose_profile

        check_metric(metric)
        if metric in PROFILE_METRICS:
            profile = profile or choose_profile(pose.scores)
            return float("inf") if profile is None else self._visible.distance(
                pose.xy, profile, entry_id, trimmed=metric == TRIMMED)
        vec, conf = pose_vector(pose)
        g = np.asarray(self._vectors[entry_id])
        if metric == COSINE:
            return float(cosine_distance(vec, g))
        return float(weighted_distance(vec, conf, g))

    def groups(self) -> np.ndarray:
        """(N,) int64: each entry's source number (mirrored twins and video frames share it)."""
        return np.asarray([e["source"] for e in self._entries], dtype=np.int64)

    def strands(self) -> np.ndarray:
        """(N,) int64: the frames of one video in one orientation share a number; a photo's
        entries each have their own (kiosk.gallery.protocol.MatchIndex.strands)."""
        keys = [(e["source"], bool(e["mirrored"])) if e["frame_time"] is not None else ("entry", i)
                for i, e in enumerate(self._entries)]
        numbers: dict[tuple[object, object], int] = {}
        return np.asarray([numbers.setdefault(k, len(numbers)) for k in keys], dtype=np.int64)

    def profile_table(self, profile: str | tuple[int, ...], *, wait: bool = True,
                      metric: str = VISIBLE) -> list[float] | None:
        """The calibration table of a profile under a profile metric, computed once
        (calibrate.DynamicTables: dynamic profiles, and a metric the index was built before)."""
        return self._dynamic_tables.get(profile, wait=wait, metric=metric)

    def calibration(self) -> dict[str, Any]:
        """The manifest's calibration block; computed now for an index built without one."""
        if self._calibration is None:
            from kiosk.gallery.calibrate import compute_calibration

            log.info("index %s has no stored calibration (format 1): calibrating now", self.index_id)
            kp = np.asarray(self._keypoints, dtype=np.float32)
            self._calibration = compute_calibration(self._vectors, kp[:, :, 2], kp, self.groups())
        return self._calibration

    def query_vector(
        self,
        vec: np.ndarray,
        conf: np.ndarray,
        k: int = 1,
        metric: str = "cosine",
        max_distance: float = float("inf"),
    ) -> list[Match]:
        """query() for a pose already normalised (cosine, weighted): vec (34,) from
        pose_vector, conf (17,)."""
        metric = Metric.parse(metric, "metric")
        if metric in PROFILE_METRICS:
            raise ValueError(f"metric {metric!r} needs the pose's keypoints: use query() or search()")
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

    def keypoints(self) -> np.ndarray:
        """(N, 17, 3) float32 (x, y, score) in rendition pixels (memory-mapped, read-only)."""
        return self._keypoints

    def close(self) -> None:
        """Drop the references to the memory-mapped arrays (the maps close when unreferenced)."""
        self._vectors = np.empty((0, self._vectors.shape[1]), np.float32)
        self._keypoints = np.empty((0, *self._keypoints.shape[1:]), np.float32)
        self._tree = None
        from kiosk.gallery.visible_index import VisibleSearch

        self._visible = VisibleSearch(self.path, self._keypoints, stored=False)

    def source_records(self) -> list[dict[str, Any]]:
        return list(self._sources)
