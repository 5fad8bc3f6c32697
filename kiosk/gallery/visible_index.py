"""The ``visible`` metric's part of an index: one exact VP-tree per keypoint profile.

Layout inside an index directory (format_version 2):

    visible/<profile>.vpt       VP-tree over the profile vectors of the eligible entries
    visible/<profile>.ids.npy   (M,) int32: the entry id of each tree row

Profiles no entry is eligible for have no files. An index without them (format_version 1)
still answers ``visible`` queries: the profile vectors are computed from keypoints.npy when
opened and searched exhaustively (exact, slower on large archives).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kiosk.core.jit import use_numba
from kiosk.match.trimmed import RERANK, rerank, tree_trimmed, trimmed_to
from kiosk.match.visible import PROFILES, Profile, choose_profile, eligible, profile_vectors

if TYPE_CHECKING:
    from kiosk.match.vptree import VPTree

log = logging.getLogger(__name__)

DIRNAME = "visible"
#: Dynamic profiles whose vectors stay in memory (a visitor keeps showing the same keypoints).
DYNAMIC_KEPT = 8


def tree_name(profile: str) -> str:
    return f"{DIRNAME}/{profile}.vpt"


def ids_name(profile: str) -> str:
    return f"{DIRNAME}/{profile}.ids.npy"


def profile_rows(keypoints: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """(ids (M,) int32 of the eligible entries, their (M, 2|P|) vectors); keypoints (N, 17, 3)."""
    kp = np.asarray(keypoints, dtype=np.float32).reshape(-1, 17, 3)
    ids = np.flatnonzero(eligible(kp[:, :, 2], profile)).astype(np.int32)
    return ids, profile_vectors(kp[ids, :, :2], profile)


def write_visible(root: Path, keypoints: np.ndarray, seed: int = 0) -> dict[str, int]:
    """Build and save every profile's tree under root/visible; returns {profile: entries}."""
    from kiosk.match.vptree import VPTree

    (root / DIRNAME).mkdir(exist_ok=True)
    counts: dict[str, int] = {}
    for name in PROFILES:
        ids, vecs = profile_rows(keypoints, name)
        counts[name] = len(ids)
        if len(ids):
            VPTree.build(vecs, metric="cosine", seed=seed).save(root / tree_name(name))
            np.save(root / ids_name(name), ids)
    return counts


@dataclass
class _Profile:
    ids: np.ndarray  # (M,) entry ids
    tree: VPTree | None  # over the vectors, or None (exhaustive)
    vectors: np.ndarray  # (M, 2|P|) float32


class VisibleSearch:
    """Exact k-nearest search under the visible metric (see kiosk.match.visible)."""

    def __init__(self, root: Path, keypoints: np.ndarray, stored: bool) -> None:
        self._root = root
        self._keypoints = keypoints
        self._stored = stored  # the index has visible/ trees
        self._profiles: dict[str, _Profile] = {}
        self._dynamic: dict[tuple[int, ...], _Profile] = {}

    def profile(self, name: str) -> _Profile:
        p = self._profiles.get(name)
        if p is None:
            p = self._load(name)
            self._profiles[name] = p
        return p

    def _dynamic_profile(self, idx: tuple[int, ...]) -> _Profile:
        """A dynamic profile's rows (exhaustive search), the last DYNAMIC_KEPT kept in memory."""
        p = self._dynamic.pop(idx, None)
        if p is None:
            ids, vecs = profile_rows(self._keypoints, idx)
            p = _Profile(ids.astype(np.int64), None, vecs)
        self._dynamic[idx] = p  # most recent last
        while len(self._dynamic) > DYNAMIC_KEPT:
            self._dynamic.pop(next(iter(self._dynamic)))
        return p

    def _load(self, name: str) -> _Profile:
        tree_path = self._root / tree_name(name)
        if self._stored and tree_path.exists():
            from kiosk.match.vptree import VPTree

            tree = VPTree.load(tree_path, verify=False)
            ids = np.load(self._root / ids_name(name), mmap_mode="r")
            return _Profile(np.asarray(ids, dtype=np.int64), tree, tree.vectors)
        if self._stored:  # no entry shows this profile
            return _Profile(np.zeros(0, np.int64), None, np.zeros((0, 2 * len(PROFILES[name])), np.float32))
        ids, vecs = profile_rows(self._keypoints, name)
        return _Profile(ids.astype(np.int64), None, vecs)

    def search(self, xy: np.ndarray, scores: np.ndarray, k: int = 1,
               max_distance: float = float("inf"), *, trimmed: bool = False
               ) -> tuple[Profile | None, np.ndarray, np.ndarray]:
        """(profile or None, (k,) entry ids, (k,) distances), nearest first; -1 / inf pad.

        xy (17, 2) and scores (17,) of the query pose (any pixel units). trimmed: the
        ``trimmed`` metric (kiosk.match.trimmed: the RERANK nearest re-ranked).
        """
        ids = np.full(k, -1, dtype=np.int64)
        dist = np.full(k, np.inf)
        name = choose_profile(scores)
        if name is None:
            return None, ids, dist
        p = self.profile(name) if isinstance(name, str) else self._dynamic_profile(name)
        if trimmed and p.tree is not None and use_numba():  # one compiled call
            return name, *tree_trimmed(p.tree, p.ids, xy, name, k, max_distance)
        if len(p.ids) == 0:
            return name, ids, dist
        if trimmed:
            first, _ = self._nearest(p, xy, name, max(k, RERANK), float("inf"))
            found, d = rerank(xy, self._keypoints, name, first, k)
            ok = d <= max_distance
            found, d = found[ok], d[ok]
        else:
            found, d = self._nearest(p, xy, name, k, max_distance)
        ids[: len(found)] = found
        dist[: len(found)] = d
        return name, ids, dist

    def _nearest(self, p: _Profile, xy: np.ndarray, name: Profile, k: int,
                 max_distance: float) -> tuple[np.ndarray, np.ndarray]:
        """The visible k nearest of the profile's entries: ((k',) entry ids, (k',) distances)."""
        q = profile_vectors(np.asarray(xy), name)
        kk = min(k, len(p.ids))
        if p.tree is not None:
            rows, d = p.tree.search(q[None, :], k=kk, max_distance=max_distance)
        else:
            from kiosk.match.brute import brute_euclidean

            rows, d = brute_euclidean(p.vectors, q, kk, max_distance)
        rows, d = rows[0], d[0]
        ok = rows >= 0
        return p.ids[rows[ok]], d[ok]

    def distance(self, xy: np.ndarray, profile: Profile, entry_id: int, *,
                 trimmed: bool = False) -> float:
        """Distance from a query pose (17, 2) to one entry under the given profile (inf if
        the entry does not show every keypoint of the profile); trimmed: the ``trimmed`` metric."""
        kp = np.asarray(self._keypoints[entry_id], dtype=np.float32)
        if not eligible(kp[:, 2], profile)[0]:
            return float("inf")
        if trimmed:
            return float(trimmed_to(np.asarray(xy), self._keypoints, np.array([entry_id], np.int64),
                                    profile)[0])
        a = profile_vectors(np.asarray(xy), profile).astype(np.float64)
        b = profile_vectors(kp[:, :2], profile).astype(np.float64)
        return float(np.linalg.norm(a - b))
