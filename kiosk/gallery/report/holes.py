"""Pose clusters of the archive (coverage) and the common visitor poses it cannot answer (holes).

Pure numpy. Vectors are normalised pose vectors (N, 34) float32 (interleaved x, y; unit norm),
so Move Mirror's cosine distance is the Euclidean distance between them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kiosk.match.metrics import PROFILE_METRICS
from kiosk.pose.types import Pose

if TYPE_CHECKING:
    from kiosk.gallery.query import ThresholdFor
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.gallery.report.reference import ReferenceSet

log = logging.getLogger(__name__)

COVERAGE_CLUSTERS = 12
REFERENCE_CLUSTERS = 16
#: Two entries of different sources closer than this (cosine distance) are near-duplicates.
DUPLICATE_DISTANCE = 0.05


@dataclass(frozen=True)
class Cluster:
    medoid: np.ndarray  # (34,) the member nearest the cluster's mean
    count: int
    members: np.ndarray  # (count,) row indices into the clustered vectors


@dataclass(frozen=True)
class Hole:
    pose: np.ndarray  # (34,) a common visitor pose (a reference cluster's medoid)
    count: int  # reference poses in its cluster
    nearest: int  # nearest archive entry id (-1: empty archive)
    distance: float  # its distance (inf: empty archive)
    share_beyond: float  # fraction of the cluster's poses whose nearest entry is beyond the threshold


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def kmeans(vectors: np.ndarray, k: int, seed: int = 0, iters: int = 30) -> list[Cluster]:
    """k-means++ then Lloyd; clusters sorted by size (largest first), each with its medoid."""
    v = np.asarray(vectors, dtype=np.float64)
    n = len(v)
    if n == 0:
        return []
    k = max(1, min(int(k), n))
    rng = np.random.default_rng(seed)
    centres = [v[rng.integers(n)]]
    for _ in range(1, k):
        d = _sqdist(v, np.asarray(centres)).min(axis=1)
        total = d.sum()
        centres.append(v[rng.choice(n, p=d / total)] if total > 0 else v[rng.integers(n)])
    c = np.asarray(centres)
    labels = np.zeros(n, dtype=np.intp)
    for _ in range(iters):
        labels = _sqdist(v, c).argmin(axis=1)
        new = np.asarray([v[labels == j].mean(axis=0) if (labels == j).any() else c[j]
                          for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    out = []
    for j in range(k):
        members = np.flatnonzero(labels == j)
        if len(members) == 0:
            continue
        medoid = members[_sqdist(v[members], c[j : j + 1])[:, 0].argmin()]
        out.append(Cluster(v[medoid].astype(np.float32), len(members), members))
    return sorted(out, key=lambda cl: -cl.count)


def coverage(index: GalleryIndex, k: int = COVERAGE_CLUSTERS, seed: int = 0) -> list[Cluster]:
    """The archive's pose clusters (entries' vectors), largest first."""
    return kmeans(np.asarray(index.vectors()), k, seed)


def _nearest(index: GalleryIndex, vec: np.ndarray, conf: np.ndarray, metric: str,
             threshold: ThresholdFor) -> tuple[int, float, float]:
    """(entry id, distance, the kiosk's threshold for what the pose shows) of a pose's nearest
    entry; (-1, inf, threshold) when nothing is matched."""
    if metric in PROFILE_METRICS:  # needs keypoints: a normalised vector is the pose in its unit box
        pose = Pose(np.asarray(vec, np.float32).reshape(17, 2), np.clip(conf, 0.0, 1.0))
        found = index.search(pose, 1, metric)
        m, limit = found.matches, threshold(found.profile)
    else:
        m = index.query_vector(np.asarray(vec, np.float32), np.asarray(conf, np.float32), 1, metric)
        limit = threshold(None)
    return (m[0].entry_id, m[0].distance, limit) if m else (-1, float("inf"), limit)


def holes(index: GalleryIndex, ref: ReferenceSet, threshold: ThresholdFor, metric: str = "cosine",
          k: int = REFERENCE_CLUSTERS, seed: int = 0) -> tuple[list[Hole], list[Hole]]:
    """(holes, answered): the reference set's clusters (common visitor poses) whose medoid's
    nearest archive entry is beyond the kiosk's threshold for what the medoid shows
    (threshold(profile), "no good match"), and the others. Distances use the kiosk's metric and
    the index's own search."""
    near = [_nearest(index, v, c, metric, threshold)
            for v, c in zip(ref.vectors, ref.confidences, strict=True)]
    beyond = np.asarray([d > limit for _, d, limit in near], dtype=bool)
    out: list[tuple[Hole, bool]] = []
    for cl in kmeans(ref.vectors, k, seed):
        conf = ref.confidences[cl.members].mean(axis=0)
        nid, d, limit = _nearest(index, cl.medoid, conf, metric, threshold)
        out.append((Hole(cl.medoid, cl.count, nid, d, float(beyond[cl.members].mean())), d > limit))
    return [h for h, far in out if far], [h for h, far in out if not far]


def near_duplicates(vectors: np.ndarray, sources: np.ndarray, mirrored: np.ndarray,
                    distance: float = DUPLICATE_DISTANCE,
                    neighbours: Callable[[int], Iterable[int]] | None = None) -> list[list[int]]:
    """Clusters (entry ids, >= 2) of unmirrored entries from different sources closer than
    `distance` to each other (single linkage). vectors (N, 34), sources (N,), mirrored (N,).
    neighbours(i): ids within `distance` of entry i (e.g. from the index's tree); default: brute
    force in blocks of rows."""
    mirrored = np.asarray(mirrored, dtype=bool)
    src = np.asarray(sources)
    parent = list(range(len(src)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    near = neighbours or _brute_neighbours(np.asarray(vectors, dtype=np.float32), distance)
    for a in np.flatnonzero(~mirrored):
        for b in near(int(a)):
            if b != a and not mirrored[b] and src[a] != src[b]:
                parent[find(int(a))] = find(int(b))
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(~mirrored):
        groups.setdefault(find(int(i)), []).append(int(i))
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


def _brute_neighbours(v: np.ndarray, distance: float) -> Callable[[int], Iterable[int]]:
    def near(i: int) -> Iterable[int]:
        d = ((v - v[i]) ** 2).sum(axis=1)
        return np.flatnonzero(d < distance * distance).tolist()

    return near
