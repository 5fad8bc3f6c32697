"""`kiosk index build`: sources -> a complete index directory, atomically.

The index is built aside, in a hidden temp directory next to OUT_DIR (same file system), and
only renamed into place once every file and the manifest are written. An existing OUT_DIR is
swapped out in one step (renameat2 RENAME_EXCHANGE where available, else two renames) and then
deleted; an interrupted or failed build removes its temp directory and never touches OUT_DIR.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.core.enums import Views
from kiosk.core.keypoints import NUM_KEYPOINTS
from kiosk.gallery import extract as ex
from kiosk.gallery import manifest as mf
from kiosk.gallery import quality as qa
from kiosk.gallery.atomic import BuildError as BuildError  # re-exported: the builder's error
from kiosk.gallery.atomic import NothingKept, check_out_dir, clean_stale, swap_into_place
from kiosk.gallery.buildsummary import BuildSummary, rejects_lines
from kiosk.gallery.calibrate import matching_extras
from kiosk.gallery.metadata import MetadataTable
from kiosk.gallery.progress import Progress
from kiosk.gallery.rendition import RenditionSpec
from kiosk.gallery.sampling import DEFAULT_CHUNK_FRAMES
from kiosk.gallery.sources import Source, enumerate_sources
from kiosk.gallery.worker import ModelLoader, SourceResult, WorkerConfig, process_source

if TYPE_CHECKING:
    from kiosk.pose.model import PoseModel

log = logging.getLogger(__name__)

DEFAULT_FPS = 2.0


class Engine(StrEnum):
    """Where poses are extracted: worker processes on this machine, or a Ray cluster
    (kiosk/gallery/cluster.py, the `cluster` extra)."""

    LOCAL = "local"
    RAY = "ray"


@dataclass(frozen=True)
class BuildOptions:
    fps: float | None = DEFAULT_FPS
    model: str | None = None
    models_dir: Path | None = None
    workers: int = 1
    every_person: bool = False
    mirror: bool = False
    filters: ex.Filters = ex.Filters()
    spec: RenditionSpec = RenditionSpec()
    metadata: tuple[Path, ...] = ()
    cache_dir: Path | None = None  # None: no cache; see default_cache_dir()
    max_upscale: float = 0.0  # refuse entries whose rendition is blown up more (0: no limit)
    engine: Engine = Engine.LOCAL
    ray_address: str | None = None  # None: RAY_ADDRESS or a new local Ray cluster
    still_threshold: float = 0.0  # skip still video frames (kiosk/gallery/sampling.py); 0: off
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    views: Views = Views.CROPS  # how each person is seen (kiosk/pose/views.py)


def default_cache_dir() -> Path:
    from kiosk.core.paths import cache_dir

    return cache_dir() / "builder"


# ---- worker processes -------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(loader: ModelLoader, cfg: WorkerConfig) -> None:
    _WORKER["model"] = loader()
    _WORKER["cfg"] = cfg


def _run_in_worker(src: Source) -> SourceResult:
    return process_source(src, _WORKER["cfg"], _WORKER["model"])


# ---- the build ----------------------------------------------------------------------------
def _load_model(options: BuildOptions) -> PoseModel:
    from kiosk.pose.engine import load_pose_model

    return load_pose_model(options.model, models_dir=options.models_dir)


def build(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    options: BuildOptions | None = None,
    *,
    model: PoseModel | None = None,
    progress: bool = True,
    model_factory: Callable[[], Any] | None = None,
) -> BuildSummary:
    """Build an index from SOURCE files/folders into out_dir (atomically). `model`: a ready pose
    model object (e.g. FakePoseModel; forces in-process work), else options.model is loaded.
    `model_factory`: how a Ray actor gets its model (default: ModelLoader of options.model)."""
    import time

    options = options or BuildOptions()
    out = Path(out_dir).expanduser().absolute()
    check_out_dir(out)
    t0 = time.monotonic()
    srcs, skipped = enumerate_sources(sources)
    meta = MetadataTable.load(options.metadata)
    model_given = model is not None
    if model is None:
        model = _load_model(options)
    cfg = WorkerConfig(
        fps=options.fps,
        every_person=options.every_person,
        mirror=options.mirror,
        filters=options.filters,
        spec=options.spec,
        cache_dir=options.cache_dir,
        model_name=str(model.name),
        model_sha256=str(model.sha256),
        still_threshold=options.still_threshold,
        chunk_frames=options.chunk_frames,
        views=options.views,
    )
    summary = BuildSummary(out)
    summary.skipped.extend((s.name, s.reason) for s in skipped)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    (tmp / mf.RENDITIONS).mkdir(parents=True)
    try:
        if options.engine is Engine.RAY:
            results = _run_on_ray(srcs, options, cfg, tmp, progress, model_factory)
        else:
            results = _run_sources(srcs, options, cfg, model, tmp, progress, in_process=model_given)
        _write_index(tmp, srcs, results, meta, options, cfg, model, summary)
        if summary.entries == 0:
            reasons = "\n".join(
                [f"  discarded {n:5d}  {r}" for r, n in summary.discarded.most_common()]
                + rejects_lines(summary.skipped, summary.no_entries))
            raise NothingKept(summary.sources_read, summary.frames_seen, out, reasons or "  nothing")
        body = {**_manifest_body(tmp, options, cfg, model, summary), **matching_extras(tmp)}
        manifest = mf.write_manifest(tmp, body)
        summary.index_id = manifest["index_id"]
        swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for key in meta.unused():
        log.warning("metadata row %r matched no source", key)
    summary.seconds = time.monotonic() - t0
    return summary


def _run_sources(
    srcs: list[Source],
    options: BuildOptions,
    cfg: WorkerConfig,
    model: Any,
    tmp: Path,
    progress: bool,
    in_process: bool,
) -> list[SourceResult | None]:
    """Process every source (in order in-process, or in worker processes) and collect results.

    `in_process`: a model object was handed in (it cannot be sent to other processes)."""
    results: list[SourceResult | None] = [None] * len(srcs)
    bar = Progress(len(srcs), "building", enabled=progress)
    collect = _collector(results, tmp, cfg, bar)
    if in_process or options.workers <= 1 or len(srcs) <= 1:
        for i, src in enumerate(srcs):
            collect(i, process_source(src, cfg, model))
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=options.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(_loader(options, cfg), cfg),
        ) as pool:
            futures = {pool.submit(_run_in_worker, s): i for i, s in enumerate(srcs)}
            try:
                for fut in as_completed(futures):
                    collect(futures[fut], fut.result())
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    bar.close()
    return results


def _collector(
    results: list[SourceResult | None], tmp: Path, cfg: WorkerConfig, bar: Progress
) -> Callable[[int, SourceResult], None]:
    parts = tmp / mf.RENDITIONS

    def collect(i: int, res: SourceResult) -> None:
        # Renditions go to disk at once (memory stays flat); ids are assigned in source order.
        for k, d in enumerate(res.drafts):
            (parts / f"part-{i:06d}-{k:05d}{cfg.spec.ext}").write_bytes(d.rendition)
            d.rendition = b""
        results[i] = res
        bar.update(1, res.frames_seen)

    return collect


def _loader(options: BuildOptions, cfg: WorkerConfig) -> ModelLoader:
    """How a worker process or a Ray actor loads the build's model (models dir resolved here)."""
    from kiosk.core.paths import models_dir

    return ModelLoader(options.model or cfg.model_name, options.models_dir or models_dir())


def _run_on_ray(srcs: list[Source], options: BuildOptions, cfg: WorkerConfig, tmp: Path, progress: bool,
                model_factory: Callable[[], Any] | None) -> list[SourceResult | None]:
    """Poses extracted on a Ray cluster, assembled here from the cache (kiosk/gallery/cluster.py)."""
    from kiosk.gallery.cluster import run_on_ray

    results: list[SourceResult | None] = [None] * len(srcs)
    collect = _collector(results, tmp, cfg, Progress(len(srcs), enabled=False))  # cluster.py has a bar
    run_on_ray(srcs, cfg, collect, model_factory or _loader(options, cfg), address=options.ray_address,
               progress=progress, scratch_parent=tmp)
    return results


def _write_index(
    tmp: Path,
    srcs: list[Source],
    results: list[SourceResult | None],
    meta: MetadataTable,
    options: BuildOptions,
    cfg: WorkerConfig,
    model: Any,
    summary: BuildSummary,
) -> None:
    sources_out: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    vecs: list[np.ndarray] = []
    confs: list[np.ndarray] = []
    kps: list[np.ndarray] = []
    ext = cfg.spec.ext
    for i, (src, res) in enumerate(zip(srcs, results, strict=True)):
        assert res is not None
        if res.error:
            summary.skipped.append((src.name, res.error))
            summary.sources_unreadable += 1
            rejects.append(qa.reject_record(tmp, len(rejects), src.name, src.path, src.kind, res.error))
            continue
        drafts = _refuse_upscaled(tmp, i, res, options, cfg, summary, src.name)
        summary.sources_read += 1
        (summary.sources_extracted if res.extracted else summary.sources_cached).append(src.name)
        summary.frames_seen += res.frames_seen
        summary.discarded.update(res.discarded)
        sidx = len(sources_out)
        sources_out.append({
            "name": src.name,
            "kind": src.kind,
            "sha256": res.sha256,
            "frame_size": list(res.frame_size) if res.frame_size else None,
            "frames_seen": res.frames_seen,
            "entries": len(drafts),
            "discarded": {r: res.discarded[r] for r in sorted(res.discarded)},
            **meta.lookup(src.name).to_dict(),
        })
        if not drafts:
            why = ", ".join(f"{r} {n}" for r, n in res.discarded.most_common()) or "no frames"
            summary.no_entries.append((src.name, f"no entry kept ({why})"))
            rejects.append(qa.reject_record(tmp, len(rejects), src.name, src.path, src.kind,
                                            f"no entry kept ({why})"))
        elif missing := qa.missing_caption(sources_out[-1]):
            summary.uncaptioned.append((src.name, missing))
        for k, d in drafts:
            eid = len(entries)
            rel = f"{mf.RENDITIONS}/{eid:06d}{ext}"
            os.rename(tmp / mf.RENDITIONS / f"part-{i:06d}-{k:05d}{ext}", tmp / rel)
            entries.append({
                "id": eid,
                "source": sidx,
                "frame_time": d.frame_time,
                "crop_box": list(d.crop_box),
                "mirrored": d.mirrored,
                "pose_score": round(float(d.pose_score), 6),
                "rendition": rel,
            })
            vecs.append(d.vector)
            confs.append(d.confidences)
            kps.append(np.concatenate([d.keypoints.xy, d.keypoints.scores[:, None]], axis=1))
            summary.mirrored_entries += int(d.mirrored)
    summary.entries = len(entries)
    n = len(entries)
    vectors = np.asarray(vecs, dtype=np.float32).reshape(n, 34)
    np.save(tmp / mf.VECTORS, vectors)
    np.save(tmp / mf.CONFIDENCES, np.asarray(confs, dtype=np.float32).reshape(n, NUM_KEYPOINTS))
    np.save(tmp / mf.KEYPOINTS, np.asarray(kps, dtype=np.float32).reshape(n, NUM_KEYPOINTS, 3))
    (tmp / mf.ENTRIES).write_text(json.dumps({"entries": entries}, separators=(",", ":")) + "\n")
    known = {r["file"] for r in rejects}
    rejects += [{"file": f, "reason": r, "thumbnail": None} for f, r in summary.skipped if f not in known]
    (tmp / mf.SOURCES).write_text(
        json.dumps({"sources": sources_out, "rejects": rejects}, indent=1) + "\n")
    if n:
        try:
            from kiosk.match.vptree import VPTree
        except ImportError:
            log.warning("kiosk.match.vptree unavailable: index written without a VP-tree")
            return
        VPTree.build(vectors, metric="cosine", seed=0).save(tmp / mf.TREE)


def _refuse_upscaled(
    tmp: Path, i: int, res: SourceResult, options: BuildOptions, cfg: WorkerConfig,
    summary: BuildSummary, name: str,
) -> list[tuple[int, Any]]:
    """(k, draft) of a source's drafts kept after --max-upscale; upscaled ones are noted."""
    kept = []
    for k, d in enumerate(res.drafts):
        f = qa.upscale_factor(d.crop_box, cfg.spec.size)
        if options.max_upscale > 0 and f > options.max_upscale:
            res.discarded[qa.UPSCALED_TOO_MUCH] += 1  # summed into summary.discarded by the caller
            (tmp / mf.RENDITIONS / f"part-{i:06d}-{k:05d}{cfg.spec.ext}").unlink()
            continue
        if f > qa.UPSCALE_WARN and not d.mirrored:
            summary.upscaled.append((name, f))
        kept.append((k, d))
    return kept


def _manifest_body(
    tmp: Path, options: BuildOptions, cfg: WorkerConfig, model: PoseModel, summary: BuildSummary
) -> dict[str, Any]:
    return {
        "model": {
            "name": cfg.model_name,
            "family": str(model.family),
            "sha256": cfg.model_sha256,
            "views": str(cfg.views),
        },
        "normalisation_version": ex.normalisation_version(),
        "vector": {
            "dims": 34,
            "metric": "cosine",
            "tree": mf.TREE if (Path(tmp) / mf.TREE).exists() else None,
        },
        "display_size": list(cfg.spec.size),
        "rendition": {"format": cfg.spec.fmt, "quality": cfg.spec.quality,
                      "margin": cfg.spec.margin, "head_room": cfg.spec.head_room},
        "build_options": {
            "fps": options.fps,
            "every_person": options.every_person,
            "mirror": options.mirror,
            "max_upscale": options.max_upscale,
            "filters": options.filters.to_dict(),
            "skip_still": options.still_threshold,
        },
        "counts": {
            "entries": summary.entries,
            "mirrored_entries": summary.mirrored_entries,
            "sources_indexed": summary.sources_read,
            "sources_read": summary.sources_read,
            "sources_unreadable": summary.sources_unreadable,
            "files_skipped": len(summary.skipped),
            "frames_seen": summary.frames_seen,
            "discarded": {r: summary.discarded[r] for r in sorted(summary.discarded)},
        },
    }
