"""`kiosk bench search`: the VP-tree against numpy brute force and scipy's cKDTree.

For each N (synthetic poses from kiosk.match.synth, queries from another seed): build time,
bytes per pose on disk and in memory, load time, and per-query latency p50 / p99 for top-1
and top-10, cosine and weighted, all in the same run. One query per call, one thread: BLAS
is pinned to one thread by re-running the benchmark in a child process with
OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1, and cKDTree gets workers=1.
Every VP-tree answer is checked against brute force (column "exact").
Figures are printed, never asserted: timings on a shared machine are noisy, so compare the
ratios to brute force measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.core.enums import ExitCode

log = logging.getLogger(__name__)

HELP = "search: VP-tree vs numpy brute force and cKDTree (build, size, load, p50/p99 latency)"

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_CHILD = "KIOSK_BENCH_SEARCH_CHILD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="10000,80000,1000000",
                        help="comma-separated gallery sizes (default 10000,80000,1000000)")
    parser.add_argument("--queries", type=int, default=300,
                        help="timed queries per measurement for the VP-tree (default 300)")
    parser.add_argument("--peer-queries", type=int, default=100,
                        help="timed queries for brute force / cKDTree (default 100; "
                        "scaled down for large N)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic gallery and queries "
                        "(default: %(default)s)")
    parser.add_argument("--no-ckdtree", action="store_true", help="skip scipy's cKDTree")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _pct(ts: list[float]) -> dict[str, float]:
    import numpy as np

    ms = np.asarray(ts) * 1e3
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def _time_queries(fn: Callable[[int], Any], n: int) -> dict[str, float]:
    fn(0)  # warm up (JIT, caches)
    ts = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        ts.append(time.perf_counter() - t)
    return _pct(ts)


def _brute(v, q, k: int):
    """numpy brute force by cosine (v unit rows): top-k ids by v @ q."""
    import numpy as np

    s = v @ q
    if k == 1:
        return np.array([int(np.argmax(s))])
    top = np.argpartition(-s, k)[:k]
    return top[np.argsort(-s[top], kind="stable")]


def _brute_weighted(v, q, w, k: int):
    """numpy brute force by the weighted distance (w: (34,) per-coordinate weights)."""
    import numpy as np

    d = np.abs(v - q) @ w
    if k == 1:
        return np.array([int(np.argmin(d))])
    top = np.argpartition(d, k)[:k]
    return top[np.argsort(d[top], kind="stable")]


def bench_size(n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import numpy as np

    from kiosk.match import VPTree, query_weights
    from kiosk.match.synth import synth_vectors

    t0 = time.perf_counter()
    peer_q = min(args.peer_queries, max(10, int(args.peer_queries * 80_000 / n)))
    v, _ = synth_vectors(n, seed=args.seed)
    qv, qc = synth_vectors(max(args.queries, peer_q) + 1, seed=args.seed + 10_007)
    qw = query_weights(qc).astype(np.float32)
    log.info("N=%d: %d synthetic poses in %.1f s", n, n, time.perf_counter() - t0)
    res: dict[str, Any] = {"n": n, "vector_bytes_per_pose": v.shape[1] * 4}

    # ---- VP-tree ------------------------------------------------------------------
    t = time.perf_counter()
    tree = VPTree.build(v, seed=args.seed)
    build_s = time.perf_counter() - t
    path = tree.save(tmp / f"tree-{n}.vpt")
    del tree
    t = time.perf_counter()
    tree = VPTree.load(path)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    VPTree.load(path, verify=False)
    load_fast_s = time.perf_counter() - t
    disk = path.stat().st_size
    mem = sum(getattr(tree, a).nbytes for a in vars(tree) if isinstance(getattr(tree, a),
                                                                        np.ndarray))
    nq = args.queries
    vp = {
        "build_s": build_s, "disk_bytes_per_pose": disk / n, "mem_bytes_per_pose": mem / n,
        "file_vs_vectors": disk / v.nbytes, "load_ms": load_s * 1e3,
        "load_unverified_ms": load_fast_s * 1e3,
        "cos_top1": _time_queries(lambda i: tree.search(qv[i], k=1), nq),
        "cos_top10": _time_queries(lambda i: tree.search(qv[i], k=10), nq),
        "w_top1": _time_queries(lambda i: tree.search_weighted(qv[i], qc[i], k=1), nq),
        "w_top10": _time_queries(lambda i: tree.search_weighted(qv[i], qc[i], k=10), nq),
    }
    # exactness on the peer queries: the top-10 distances equal brute force's (float64)
    ok_c = ok_w = 0
    for i in range(peer_q):
        q64 = qv[i].astype(np.float64)
        d_c = np.sort(np.sqrt(((v - q64) ** 2).sum(axis=1)))[:10]
        d_w = np.sort(np.abs(v - q64) @ qw[i].astype(np.float64))[:10]
        ok_c += np.allclose(tree.search(qv[i], k=10)[1][0], d_c, rtol=0, atol=1e-5)
        ok_w += np.allclose(tree.search_weighted(qv[i], qc[i], k=10)[1][0], d_w, rtol=0,
                            atol=1e-5)
    vp["exact"] = f"{ok_c}/{peer_q} cos, {ok_w}/{peer_q} weighted"
    vp.update(_bench_visible(n, args, tmp, nq, peer_q))
    res["vptree"] = vp

    # ---- numpy brute force ----------------------------------------------------------
    npy = tmp / f"vectors-{n}.npy"
    np.save(npy, v)
    t = time.perf_counter()
    vm = np.load(npy, mmap_mode="r")
    bl = time.perf_counter() - t
    vm = np.asarray(vm)
    res["numpy"] = {
        "build_s": 0.0, "disk_bytes_per_pose": npy.stat().st_size / n,
        "mem_bytes_per_pose": v.nbytes / n, "load_ms": bl * 1e3,
        "cos_top1": _time_queries(lambda i: _brute(vm, qv[i], 1), peer_q),
        "cos_top10": _time_queries(lambda i: _brute(vm, qv[i], 10), peer_q),
        "w_top1": _time_queries(lambda i: _brute_weighted(vm, qv[i], qw[i], 1), peer_q),
        "w_top10": _time_queries(lambda i: _brute_weighted(vm, qv[i], qw[i], 10), peer_q),
    }
    npy.unlink()

    # ---- scipy cKDTree (Euclidean = cosine distance on unit vectors; no weighted) -----
    if not args.no_ckdtree:
        try:
            import pickle

            from scipy.spatial import cKDTree
        except ImportError:
            log.warning("scipy not installed (extra 'bench'): cKDTree skipped")
        else:
            t = time.perf_counter()
            kd = cKDTree(v)
            kb = time.perf_counter() - t
            blob = pickle.dumps(kd, protocol=pickle.HIGHEST_PROTOCOL)
            t = time.perf_counter()
            kd = pickle.loads(blob)
            kl = time.perf_counter() - t
            res["ckdtree"] = {
                "build_s": kb, "disk_bytes_per_pose": len(blob) / n,
                "mem_bytes_per_pose": len(blob) / n, "load_ms": kl * 1e3,
                "cos_top1": _time_queries(lambda i: kd.query(qv[i], k=1, workers=1), peer_q),
                "cos_top10": _time_queries(lambda i: kd.query(qv[i], k=10, workers=1), peer_q),
            }
            del blob
    path.unlink()
    return res


def _bench_visible(n: int, args: argparse.Namespace, tmp: Path, nq: int, peer_q: int
                   ) -> dict[str, Any]:
    """The visible metric: whole-body ("full") and waist-up ("upper") queries, each against
    its profile's VP-tree over the synthetic archive (as kiosk.gallery.visible_index); the
    trimmed metric (visible's RERANK nearest re-ranked) on the same whole-body queries."""
    import numpy as np

    from kiosk.gallery.visible_index import VisibleSearch, ids_name, profile_rows, tree_name
    from kiosk.match import VPTree
    from kiosk.match.synth import synth_poses
    from kiosk.match.trimmed import brute_trimmed
    from kiosk.match.visible import brute_visible

    xy = np.empty((n, 17, 2), np.float32)
    sc = np.empty((n, 17), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        xy[start:start + m], sc[start:start + m] = synth_poses(m, seed=args.seed * 1_000_003 + start)
    kp = np.concatenate([xy, sc[..., None]], axis=2)
    (tmp / "visible").mkdir(exist_ok=True)
    for name in ("full", "upper"):
        ids, vecs = profile_rows(kp, name)
        VPTree.build(vecs, seed=args.seed).save(tmp / tree_name(name))
        np.save(tmp / ids_name(name), ids)
    search = VisibleSearch(tmp, kp, stored=True)
    qxy, _ = synth_poses(nq + 1, seed=args.seed + 20_011)
    full = np.full(17, 0.9, np.float32)
    waist = full.copy()
    waist[11:] = 0.0
    out: dict[str, Any] = {"vis_top1": _time_queries(lambda i: search.search(qxy[i], full, 1), nq),
           "vis_upper_top1": _time_queries(lambda i: search.search(qxy[i], waist, 1), nq),
           "trim_top1": _time_queries(lambda i: search.search(qxy[i], full, 1, trimmed=True), nq)}
    ok = sum(np.allclose(search.search(qxy[i], s, 10)[2],
                         brute_visible(xy, sc, qxy[i], s, 10)[2], rtol=0, atol=1e-5)
             for i in range(min(peer_q, 30)) for s in (full, waist))
    ok_t = sum(np.allclose(search.search(qxy[i], full, 10, trimmed=True)[2],
                           brute_trimmed(xy, sc, qxy[i], full, 10)[2], rtol=0, atol=1e-5)
               for i in range(min(peer_q, 30)))
    out["exact_visible"] = f"{ok}/{2 * min(peer_q, 30)} visible, {ok_t}/{min(peer_q, 30)} trimmed"
    for name in ("full", "upper"):
        (tmp / tree_name(name)).unlink()
        (tmp / ids_name(name)).unlink()
    return out


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def print_table(results: list[dict[str, Any]]) -> None:
    cols = ("cos_top1", "cos_top10", "w_top1", "w_top10", "vis_top1", "vis_upper_top1", "trim_top1")
    print("| N | method | build s | disk B/pose | mem B/pose | load ms | "
          + " | ".join(f"{c} p50 / p99 ms" for c in cols) + " | cos top-1 vs numpy |")
    print("|---" * (8 + len(cols) - 1) + "|")
    for r in results:
        base = r["numpy"]["cos_top1"]["p50"]
        for name in ("vptree", "numpy", "ckdtree"):
            m = r.get(name)
            if m is None:
                continue
            lat = [f"{m[c]['p50']:.3f} / {m[c]['p99']:.3f}" if c in m else "n/a" for c in cols]
            print(f"| {r['n']:,} | {name} | {_fmt(m['build_s'], '.2f')} | "
                  f"{_fmt(m['disk_bytes_per_pose'], '.1f')} | {_fmt(m['mem_bytes_per_pose'], '.1f')}"
                  f" | {_fmt(m['load_ms'], '.1f')} | " + " | ".join(lat)
                  + f" | {m['cos_top1']['p50'] / base:.3f}x |")
    for r in results:
        vp = r["vptree"]
        print(f"N={r['n']:,}: index file {vp['file_vs_vectors']:.3f}x the float32 vectors, "
              f"load {vp['load_ms']:.1f} ms verified / {vp['load_unverified_ms']:.1f} ms not, "
              f"exact: {vp['exact']}, {vp.get('exact_visible', '-')}")


def run(args: argparse.Namespace) -> int:
    if os.environ.get(_CHILD) != "1":  # re-run with BLAS pinned to one thread
        env = dict(os.environ, **{var: "1" for var in _THREAD_VARS}, **{_CHILD: "1"})
        argv = ["--sizes", args.sizes, "--queries", str(args.queries),
                "--peer-queries", str(args.peer_queries), "--seed", str(args.seed)]
        argv += ["--no-ckdtree"] * args.no_ckdtree + ["--json"] * args.json
        cmd = [sys.executable, "-m", "kiosk", "bench", "search", *argv]
        return subprocess.call(cmd, env=env)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 20:
        log.error("--sizes: give gallery sizes of at least 20, e.g. 10000,80000")
        return ExitCode.USAGE
    results = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-search-") as tmp:
        for n in sizes:
            results.append(bench_size(n, args, Path(tmp)))
            log.info("N=%d done", n)
    if args.json:
        json.dump({"threads": 1, "results": results}, sys.stdout, indent=1)
        print()
    else:
        print_table(results)
    return ExitCode.OK
