"""An exact, compact VP-tree over pose vectors, in one memory-mapped file.

    tree = VPTree.build(vectors, metric="cosine", seed=0)   # (N, D) float32, L2-normalised
    tree.save(path); tree = VPTree.load(path)               # memory-mapped, no per-node objects
    ids, dists = tree.search(queries, k=1)                  # (D,) or (M, D) -> (M, k), (M, k)
    ids, dists = tree.search_weighted(query_xy, query_conf, k=1)

Structure: flat arrays (see vptree_build): vectors stored in tree order so every leaf bucket
is contiguous; each internal node keeps its vantage point at the first position of its range
and the min/max distance of each child's points to it; every node also keeps an outward-
quantised bounding box (uint16 per dimension) and an int8 box in PCA space ("sketch" space:
the S = 16 leading principal axes of the gallery); every point has its int8 sketch. A leaf's
points are sorted along the first principal axis and cut in runs of 64, each with its own
sketch box and its codes in one contiguous axis-major block.

The search is a depth-first branch and bound (nearer child first). A node or a point is
skipped only when a *lower bound* of its distance exceeds the current k-th best distance plus
a 1e-5 slack (float32 rounding of unit-scale distances is below 1e-6). Every skipped point is
therefore provably farther than the k-th result, and the result equals brute force's. Ties
are broken by the lower id everywhere (the k-best lists compare (distance, id)), and a point's
distance is always computed by the same function, so exact duplicates tie exactly.

Cosine search. For unit vectors cosine_distance = sqrt(2 (1 - cos)) = ||a - b||, a metric
(queries are L2-normalised first). Lower bounds used:
  (ball)   the triangle inequality: | ||q - vp|| - ||g - vp|| | <= ||q - g||, with the node's
           stored range of ||g - vp||;
  (sketch) an orthonormal projection P never lengthens: ||P q - P g|| <= ||q - g||; with the
           int8 codes c = round(P g / step) (|P g / step - c| <= 1/2) this gives
           ||q - g||^2 >= sum_j (step_j * max(|P q / step_j - c_j| - 1/2, 0))^2, for one point
           (its code) or for a node or run (the interval of its codes). A run out of reach
           is skipped; in the others every point is filtered by the first 8 axes at once
           (vectorised), then by all 16 when any survive; only survivors get their exact
           distance.

Weighted search. d_w(q, g) = sum_j w_j |q_j - g_j| with w_j >= 0 taken from the query
(conf_k / sum conf for both x_k and y_k; uniform when all are 0). It is not the metric the
tree was built with, but two lower bounds hold for every point g of a node, whatever the
weights (zeros included):
  (box)    g_j lies in [lo_j, hi_j], so |q_j - g_j| >= gap_j = max(lo_j - q_j, 0, q_j - hi_j)
           and d_w(q, g) >= sum_j w_j gap_j;
  (ball)   d_w is a (semi)norm for fixed weights, so d_w(q, g) >= d_w(q, vp) - d_w(g, vp), and
           d_w(g, vp) <= ||w||_2 ||g - vp||_2 (Cauchy-Schwarz) <= ||w||_2 * (max ||g - vp||);
and for one point, from the uint8 codes c_j = round((g_j - o_j) / s_j) of T = 14 of its
coordinates (|g_j - o_j - c_j s_j| <= s_j / 2): d_w(q, g) >= sum over those j of
w_j s_j max(|(q_j - o_j) / s_j - c_j| - 1/2, 0) (dropping the other terms only lowers it).

Missing results (k > N, or nothing within max_distance) are id -1 with distance inf.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.jit import use_numba
from kiosk.match import query_status as qs
from kiosk.match import treefile
from kiosk.match import vptree_build as vb
from kiosk.match.query_status import QueryProblem as P
from kiosk.match.treefile import IndexFormatError

log = logging.getLogger(__name__)

__all__ = ["IndexFormatError", "VPTree"]

DEFAULT_LEAF_SIZE = 512
N_CAND = 5
N_SAMPLE = 48
#: sketch axes used to filter leaf points before their exact distance (see vptree_kernels)
N_FILTER = 8
_ARRAYS = ("vectors", "ids", "node_range", "node_child", "node_bounds", "node_box",
           "box_origin", "box_step", "pca_mean", "pca_rot", "sketch", "sketch_step", "node_sbox",
           "node_chunk", "chunk_sbox", "wsketch", "wsketch_dims", "wsketch_origin",
           "wsketch_step")


def _check_vectors(vectors: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    if v.ndim != 2 or v.shape[1] < 1:
        raise ValueError(f"vectors must have shape (N, D), got {np.shape(vectors)}")
    if not np.all(np.isfinite(v)):
        raise ValueError("vectors contain NaN or infinite values")
    if len(v):
        norms = np.sqrt((v.astype(np.float64) ** 2).sum(axis=1))
        bad = np.flatnonzero(np.abs(norms - 1.0) > 1e-3)
        if len(bad):
            raise ValueError(
                f"metric 'cosine' needs L2-normalised vectors; row {bad[0]} has norm "
                f"{norms[bad[0]]:.6g} (use kiosk.match.normalize_xy)"
            )
    return v


def _kernels():  # the compiled module, imported on first use (compiles or loads the cache)
    from kiosk.match import vptree_kernels

    return vptree_kernels


class VPTree:
    """A built or loaded tree. Build with VPTree.build, load with VPTree.load."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, path: Path | None = None):
        self.meta = meta
        self.path = path
        self.tree_vectors: np.ndarray = arrays["vectors"]  # (N, D) float32, tree order
        self.tree_ids: np.ndarray = arrays["ids"]  # (N,) int32: id at each tree position
        self.node_range: np.ndarray = arrays["node_range"]
        self.node_child: np.ndarray = arrays["node_child"]
        self.node_bounds: np.ndarray = arrays["node_bounds"]
        self.node_box: np.ndarray = arrays["node_box"]
        self.box_origin: np.ndarray = arrays["box_origin"]  # (D,) float32
        self.box_step: np.ndarray = arrays["box_step"]  # (D,) float32
        self.pca_mean: np.ndarray = arrays["pca_mean"]  # (D,) float32
        self.pca_rot: np.ndarray = arrays["pca_rot"]  # (S, D) float32
        self.sketch: np.ndarray = arrays["sketch"]  # (N * S,) int8, leaf-blocked
        self.sketch_step: np.ndarray = arrays["sketch_step"]  # (S,) float32
        self.node_sbox: np.ndarray = arrays["node_sbox"]  # (n, 2, S) int8
        self.node_chunk: np.ndarray = arrays["node_chunk"]  # (n,) int32
        self.chunk_sbox: np.ndarray = arrays["chunk_sbox"]  # (C, 2, S) int8
        self.wsketch: np.ndarray = arrays["wsketch"]  # (N * T,) uint8, run-blocked
        self.wsketch_dims: np.ndarray = arrays["wsketch_dims"]  # (T,) int32
        self.wsketch_origin: np.ndarray = arrays["wsketch_origin"]  # (T,) float32
        self.wsketch_step: np.ndarray = arrays["wsketch_step"]  # (T,) float32
        self._by_id: np.ndarray | None = None
        self._inverse: np.ndarray | None = None

    # ---- building ---------------------------------------------------------------------
    @classmethod
    def build(cls, vectors: np.ndarray, metric: str = "cosine", seed: int = 0,
              leaf_size: int = DEFAULT_LEAF_SIZE) -> VPTree:
        """Build from (N, D) float32 L2-normalised vectors; deterministic for a seed."""
        if metric != "cosine":
            raise ValueError(f"unsupported metric {metric!r} (only 'cosine')")
        if int(leaf_size) < 2:
            raise ValueError(f"leaf_size must be >= 2, got {leaf_size}")
        v = _check_vectors(vectors)
        n, dims = v.shape
        if n >= 2**31 - 1:
            raise ValueError("too many vectors for int32 ids")
        compiled = use_numba()
        if compiled:
            from kiosk.match.vptree_build import build_kernel as build_fn
        else:
            from kiosk.match.vptree_numpy import build_numpy as build_fn
        perm, work, node_range, node_child, bounds = build_fn(
            v, int(leaf_size), int(seed) % 2**32, N_CAND, N_SAMPLE
        )
        node_range = np.ascontiguousarray(node_range, dtype=np.int32)
        node_child = np.ascontiguousarray(node_child, dtype=np.int32)
        work = np.ascontiguousarray(work, dtype=np.float32)
        mean, rot = vb.pca_axes(work)
        y = vb.project(work, mean, rot)
        order = vb.leaf_order(y[:, 0], node_range, node_child)
        work, perm, y = work[order], perm[order], y[order]
        arrays = {
            "vectors": work,
            "ids": perm.astype(np.int32),
            "node_range": node_range,
            "node_child": node_child,
            "node_bounds": np.ascontiguousarray(bounds, dtype=np.float32),
            **vb.box_arrays(work, node_range, node_child, compiled),
            **vb.sketch_arrays(y, mean, rot, node_range, node_child, compiled),
            **vb.wsketch_arrays(work, node_range, node_child),
        }
        meta = {"n": n, "dims": dims, "seed": int(seed), "metric": metric,
                "leaf_size": int(leaf_size), "n_nodes": len(node_range)}
        return cls(arrays, meta)

    # ---- files ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write one versioned, checksummed file (see treefile); atomic (temp file + rename)."""
        return treefile.write(Path(path), self.meta, {name: self._array(name) for name in _ARRAYS})

    @classmethod
    def load(cls, path: str | Path, verify: bool = True) -> VPTree:
        """Memory-map a saved tree. Raises IndexFormatError (a ValueError) naming the file.

        verify: check the payload's sha256 (reads the whole file once); the structure is
        always checked, so even verify=False cannot crash the search on a corrupt file.
        """
        path = Path(path)
        meta, arrays = treefile.read(path, _ARRAYS, verify=verify)
        tree = cls(arrays, meta, path)
        treefile.check_structure(path, tree)
        return tree

    def _array(self, name: str) -> np.ndarray:
        attr = {"vectors": "tree_vectors", "ids": "tree_ids"}.get(name, name)
        return getattr(self, attr)

    # ---- properties -------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.meta["n"])

    @property
    def dims(self) -> int:
        return int(self.meta["dims"])

    @property
    def vectors(self) -> np.ndarray:
        """(N, D) float32 stored vectors in id order (read-only; gathered once from the
        memory-mapped tree-order array, which is `tree_vectors`)."""
        if self._by_id is None:
            by_id = np.empty((len(self), self.dims), dtype=np.float32)
            by_id[np.asarray(self.tree_ids, dtype=np.intp)] = self.tree_vectors
            by_id.setflags(write=False)
            self._by_id = by_id
        return self._by_id

    def vector(self, i: int) -> np.ndarray:
        """(D,) the stored vector of id i, without gathering all of them."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"id {i} out of range (tree has {len(self)} vectors)")
        return np.asarray(self.tree_vectors[int(self.positions()[i])])

    def positions(self) -> np.ndarray:
        """(N,) int64: the row of `tree_vectors` holding each id (computed once, read-only)."""
        if self._inverse is None:
            inverse = np.empty(len(self), dtype=np.int64)
            inverse[np.asarray(self.tree_ids, dtype=np.intp)] = np.arange(len(self))
            inverse.setflags(write=False)
            self._inverse = inverse
        return self._inverse

    # ---- queries ----------------------------------------------------------------------
    def knn_arrays(self) -> tuple[Any, ...]:
        """The leading arguments of the compiled Euclidean search (vptree_kernels.knn_kernel,
        also called inside kiosk.match.trimmed_kernel's one-call search): the tree's arrays and
        N_FILTER, in the kernel's order."""
        return (self.tree_vectors, self.tree_ids, self.node_range, self.node_child,
                self.node_bounds, self.pca_mean, self.pca_rot, self.sketch, self.sketch_step,
                self.node_sbox, self.node_chunk, self.chunk_sbox, N_FILTER)

    def _queries(self, queries: np.ndarray, name: str = "queries") -> np.ndarray:
        """(M, D) float32 C-contiguous view/copy of queries; shape checked (not values)."""
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2 or q.shape[1] != self.dims:
            raise ValueError(
                f"{name} must have shape ({self.dims},) or (M, {self.dims}), got {np.shape(queries)}"
            )
        return q if q.flags.c_contiguous else np.ascontiguousarray(q)

    @staticmethod
    def _k(k: int, max_distance: float) -> tuple[int, float]:
        if type(k) is not int and (not isinstance(k, int | np.integer) or isinstance(k, bool)):
            if not (isinstance(k, float | np.floating) and float(k).is_integer()):
                raise ValueError(f"k must be a positive integer, got {k!r}")
        if k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if max_distance != max_distance:
            raise ValueError("max_distance must not be NaN")
        return int(k), float(max_distance)

    @staticmethod
    def _raise(status: int, name: str) -> None:
        m, problem = qs.decode(status)
        raise ValueError(f"{name} row {m} {problem.describe()}")

    def search(self, queries: np.ndarray, k: int = 1, max_distance: float = float("inf")
               ) -> tuple[np.ndarray, np.ndarray]:
        """k nearest by cosine distance sqrt(2 (1 - cos)), exact.

        queries: (D,) or (M, D), any nonzero norm (normalised here).
        Returns ids (M, k) int64 and distances (M, k) float64, sorted by (distance, id);
        -1 / inf where fewer than k vectors lie within max_distance.
        """
        k, max_distance = self._k(k, max_distance)
        q = self._queries(queries)
        ids = np.empty((len(q), k), dtype=np.int64)
        dists = np.empty((len(q), k), dtype=np.float64)
        if use_numba():
            status = _kernels().knn_kernel(*self.knn_arrays(), q, k, max_distance, ids, dists)
            if status >= 0:
                self._raise(status, "queries")
            return ids, dists
        from kiosk.match.vptree_numpy import search_numpy

        if not np.isfinite(q).all():
            self._raise(qs.encode(np.flatnonzero(~np.isfinite(q).all(axis=1))[0], P.NONFINITE), "queries")
        norms = np.sqrt(np.einsum("ij,ij->i", q.astype(np.float64), q.astype(np.float64)))
        if (norms <= 0).any():
            self._raise(qs.encode(np.flatnonzero(norms <= 0)[0], P.ZERO_VECTOR), "queries")
        return search_numpy(self, (q / norms[:, None]).astype(np.float32), k, max_distance)

    def search_weighted(self, query_xy: np.ndarray, query_conf: np.ndarray, k: int = 1,
                        max_distance: float = float("inf")) -> tuple[np.ndarray, np.ndarray]:
        """k nearest by Move Mirror's weighted distance, exact (see the module docstring).

        query_xy: normalised pose vector(s) (34,) / (M, 34), or keypoints (17, 2) /
        (M, 17, 2), which are normalised here with normalize_xy(query_xy, query_conf).
        query_conf: (17,) or (M, 17) query keypoint confidences >= 0.
        Returns ids (M, k) int64 and distances (M, k) float64 as search() does.
        """
        k, max_distance = self._k(k, max_distance)
        if self.dims != 34:
            raise ValueError("search_weighted needs a tree of 34-dimensional pose vectors")
        xy = np.asarray(query_xy, dtype=np.float32)
        conf = np.asarray(query_conf, dtype=np.float32)
        if xy.ndim >= 2 and xy.shape[-2:] == (17, 2):
            from kiosk.match.normalize import normalize_xy

            xy = normalize_xy(xy, conf)
        q = self._queries(xy, "query_xy")
        if conf.ndim == 1:
            conf = conf.reshape(1, -1)
        if conf.shape != (len(q), 17):
            raise ValueError(f"query_conf must have shape (17,) or ({len(q)}, 17), "
                             f"got {np.shape(query_conf)}")
        conf = conf if conf.flags.c_contiguous else np.ascontiguousarray(conf)
        ids = np.empty((len(q), k), dtype=np.int64)
        dists = np.empty((len(q), k), dtype=np.float64)
        if use_numba():
            status = _kernels().weighted_kernel(
                self.tree_vectors, self.tree_ids, self.node_range, self.node_child,
                self.node_bounds, self.node_box, self.box_origin, self.box_step, self.wsketch,
                self.wsketch_dims, self.wsketch_origin, self.wsketch_step, q, conf, k,
                max_distance, ids, dists)
            if status >= 0:
                self._raise(status, "query_xy" if qs.decode(status)[1] is P.NONFINITE else "query_conf")
            return ids, dists
        from kiosk.match.distance import query_weights
        from kiosk.match.vptree_numpy import search_numpy

        if not np.isfinite(q).all():
            self._raise(qs.encode(np.flatnonzero(~np.isfinite(q).all(axis=1))[0], P.NONFINITE), "query_xy")
        bad = ~(np.isfinite(conf) & (conf >= 0)).all(axis=1)
        if bad.any():
            self._raise(qs.encode(np.flatnonzero(bad)[0], P.BAD_CONFIDENCE), "query_conf")
        return search_numpy(self, q, k, max_distance, weights=query_weights(conf))

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) both search kernels now, not on the first
        visitor's frame: one search and one weighted search of the first stored vector."""
        q = np.asarray(self.tree_vectors[:1]) if len(self) else np.ones((1, self.dims), np.float32)
        self.search(q, k=1)
        if self.dims == 34:
            self.search_weighted(q, np.ones((1, 17), np.float32), k=1)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"VPTree(n={len(self)}, dims={self.dims}, nodes={self.meta['n_nodes']}{where})"
