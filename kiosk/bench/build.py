"""`kiosk bench build`: frames/s of the index builder, local (1 and 2 workers) and Ray, in one run.

Every configuration builds the same sources from scratch (no extraction cache) into a temporary
directory; the wall time is the whole `build()` call (model load, worker start-up, hashing,
renditions, the VP-tree), so it is what a curator waits for. Ray's cluster start-up
(`ray.init`, a local cluster of N CPUs for `--configs ray:N`) is timed apart and not included: a real
cluster is started once for many builds. Default sources: the shared data's 24 PoseNet demo
photos, its COCO val2017 slice and the squats recording (2 fps), as in the README's builder
figures. The load average (`os.getloadavg`) before and after each run is printed beside it:
this machine is shared, compare the ratios. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from kiosk.core.enums import ExitCode

log = logging.getLogger(__name__)

HELP = "build: index builder frames/s, local 1 and 2 workers and Ray with 2 CPUs, same sources"

DEFAULT_SOURCES = ("data/posenet-demo-images", "data/coco-mini/val2017", "data/recordings/pose_squats.mp4")
DEFAULT_CONFIGS = "local:1,local:2,ray:2"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="*", type=Path, metavar="SOURCE",
                        help="files/folders (default: the shared demo photos, COCO slice, recording)")
    parser.add_argument("--model", default="posenet-481x641", help="pose model every engine builds with")
    parser.add_argument("--models-dir", type=Path, default=None, help="default: KIOSK_MODELS_DIR")
    parser.add_argument("--fps", type=float, default=2.0, help="video frames sampled per second")
    parser.add_argument("--skip-still", type=float, default=0.0,
                        help="skip video frames that differ less than this (mean grey level, 0: off)")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS,
                        help=f"engine:workers list (default {DEFAULT_CONFIGS}; for ray, workers = CPUs)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (median)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _default_sources() -> list[Path]:
    from kiosk.core.paths import CHECKOUT, asset_mirror

    mirror = asset_mirror() or CHECKOUT.parent / "shared"
    return [mirror / s for s in DEFAULT_SOURCES]


def _one(sources: list[Path], options: Any, tmp: Path) -> dict[str, Any]:
    from kiosk.gallery.builder import build

    load0 = os.getloadavg()[0]
    out = tmp / f"idx-{time.monotonic_ns()}"
    t0 = time.perf_counter()
    s = build(sources, out, options, progress=False)
    seconds = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": round(seconds, 2), "frames": s.frames_seen,
            "frames_per_s": round(s.frames_seen / seconds, 2), "index_id": s.index_id,
            "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2)}


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from statistics import median

    from kiosk.gallery.builder import BuildOptions, Engine

    sources = args.sources or _default_sources()
    base = BuildOptions(fps=args.fps if args.fps > 0 else None, model=args.model,
                        models_dir=args.models_dir, still_threshold=args.skip_still, cache_dir=None)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-build-") as tmp:
        for spec in args.configs.split(","):
            engine, _, n = spec.partition(":")
            workers = int(n or 1)
            row: dict[str, Any] = {"engine": engine, "workers": workers}
            opts = replace(base, engine=Engine(engine), workers=workers)
            ray = None
            if opts.engine is Engine.RAY:
                from kiosk.gallery.cluster import import_ray

                ray = import_ray()
                t0 = time.perf_counter()
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
                row["ray_init_s"] = round(time.perf_counter() - t0, 2)
            try:
                runs = [_one(sources, opts, Path(tmp)) for _ in range(max(1, args.repeat))]
            finally:
                if ray is not None:
                    ray.shutdown()
            row.update(runs[0])
            row["seconds"] = round(median(r["seconds"] for r in runs), 2)
            row["frames_per_s"] = round(median(r["frames_per_s"] for r in runs), 2)
            row["runs"] = runs
            rows.append(row)
            log.info("%s", row)
    ids = {r["index_id"] for r in rows}
    doc = {"model": args.model, "fps": args.fps, "skip_still": args.skip_still,
           "sources": [str(s) for s in sources], "same_index_id": len(ids) == 1, "results": rows}
    if args.json:
        print(json.dumps(doc, indent=1))
        return ExitCode.OK
    print(f"model {args.model}, fps {args.fps}, skip-still {args.skip_still};"
          f" same index id in every run: {doc['same_index_id']}")
    print("| engine | workers/CPUs | frames | seconds | frames/s | ray init s | load before/after |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['workers']} | {r['frames']} | {r['seconds']} | {r['frames_per_s']}"
              f" | {r.get('ray_init_s', '')} | {r['load_before']} / {r['load_after']} |")
    return ExitCode.OK
