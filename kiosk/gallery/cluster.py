"""The Ray engine of `kiosk index build --engine ray`: pose extraction on a Ray cluster.

Only the extraction (decode + pose model, the expensive part) runs on the cluster; everything
after it is the local builder's own code on the driver. The pipeline:

1. the driver hashes every source and looks its poses up in the extraction cache (the same
   content-addressed cache the local engine uses, kiosk/gallery/cache.py); cached sources are
   not sent anywhere;
2. each remaining source becomes chunks (a photo: one; a video: spans of `chunk_frames` sampled
   frames, kiosk/gallery/sampling.py), the rows of a Ray Dataset;
3. `map_batches(decode_chunk)` (tasks) decodes a chunk into frames, skipping still frames when
   asked, then one end-of-chunk row (frame count or the reason the source is bad);
4. `map_batches(PoseActor)` (an actor pool, one model loaded per actor) runs the model on each
   frame (`worker.frame_record`, the local engine's per-frame code) and renders the poses that
   pass the filters (`worker.candidate_renditions`), returning the record and the renditions;
5. the driver streams the rows back and stores the renditions in the cache; as soon as every
   chunk of a source is in, it writes the source's records to the cache (so an interrupted build
   keeps finished sources) and makes the source's entries from the cache exactly as a local
   build with a warm cache does (`worker.process_source`: filters, dedupe, renditions found in
   the cache), hence the same index id, without decoding anything again; the renditions of
   candidates the dedupe dropped are then removed from the cache (only kept ones stay, as
   locally), so the cache holds at most the candidates of the sources in flight;
6. sources whose poses were cached already are assembled the same way at the end.

A chunk whose worker dies is retried (decode tasks by Ray core's task retries; pose actors are
restarted, Ray Data's `max_restarts=-1`, and their calls retried, `max_task_retries=-1`).
Workers read sources and models by path: on a multi-node cluster both must be on storage every
node mounts at the same path, and the kiosk package (with its `cluster` extra) installed on
every node. Only the driver reads and writes the cache (docs/cluster.md).
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.checksum import sha256_file
from kiosk.gallery.atomic import BuildError
from kiosk.gallery.cache import FrameRecord
from kiosk.gallery.progress import Progress
from kiosk.gallery.sampling import Sample, chunk_spans, sample_span
from kiosk.gallery.sources import Source, SourceError
from kiosk.gallery.worker import (
    SourceResult,
    WorkerConfig,
    candidate_renditions,
    frame_record,
    pose_cache,
    process_source,
    rendition_keys,
    source_error,
)

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install '.[cluster]'"
#: CPU share of a pose actor and of a decode task (the model dominates: ~45 ms vs ~5 ms a frame).
ACTOR_CPUS = 0.75
DECODE_CPUS = 0.25
#: Frames per model call batch sent to an actor.
POSE_BATCH = 8


class ClusterUnavailable(BuildError):
    """Ray is not installed or the cluster cannot be reached; the message says what to do."""


def import_ray() -> Any:
    """The `ray` module (with Ray Data), or ClusterUnavailable naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise ClusterUnavailable(
            f"--engine ray needs Ray Data, which is not installed ({e}); install the build"
            f" machine's cluster extra: {INSTALL_HINT} (never needed on a kiosk)"
        ) from None
    return ray


@dataclass
class ExtractOutcome:
    """What the cluster did: sources it extracted, sources it found bad (index -> reason)."""

    extracted: set[int] = field(default_factory=set)
    errors: dict[int, str] = field(default_factory=dict)
    model_runs: int = 0
    frames: int = 0


# ---- the two stages (run on cluster workers) ----------------------------------------------
def _row(source: int, chunk: int, **kw: Any) -> dict[str, np.ndarray]:
    base = {"source": source, "chunk": chunk, "end": False, "count": 0, "error": "",
            "record": "", "frame": b"", "still": False, "renditions": b""}
    base.update(kw)
    return {k: np.array([v], dtype=object if isinstance(v, bytes | str) else None)
            for k, v in base.items()}


def decode_chunk(
    batch: dict[str, np.ndarray], *, fps: float | None, still_threshold: float
) -> Iterator[dict[str, np.ndarray]]:
    """Ray Data UDF: chunk rows -> one row per sampled frame, then an end-of-chunk row."""
    for i in range(len(batch["source"])):
        sidx, k = int(batch["source"][i]), int(batch["chunk"][i])
        src = Source(Path(str(batch["path"][i])), str(batch["name"][i]), str(batch["kind"][i]))
        end = float(batch["end"][i])
        span = (float(batch["start"][i]), None if math.isnan(end) else end)
        n = 0
        try:
            for sample in sample_span(src, fps, span, still_threshold):
                n += 1
                h, w = sample.rgb.shape[:2]
                rec = FrameRecord(sample.time, w, h, [], still=sample.still)
                frame = b"" if sample.still else np.ascontiguousarray(sample.rgb).tobytes()
                yield _row(sidx, k, record=json.dumps(rec.to_json()), frame=frame, still=sample.still)
        except Exception as e:  # a bad source is reported, never fails the build
            yield _row(sidx, k, end=True, error=source_error(src, e))
            continue
        yield _row(sidx, k, end=True, count=n)


class PoseActor:
    """Ray Data callable class: the pose model, loaded once per actor by `factory()`, and the
    build's settings (for the renditions).

    Use `PoseActor.using(factory, cfg)`: both travel with the class definition rather than as
    constructor arguments in the object store, so a restarted actor can always rebuild them."""

    factory: Callable[[], Any]
    cfg: WorkerConfig

    def __init__(self) -> None:
        self.model = type(self).factory()

    @classmethod
    def using(cls, factory: Callable[[], Any], cfg: WorkerConfig) -> type[PoseActor]:
        return type(cls.__name__, (cls,), {"factory": staticmethod(factory), "cfg": cfg})

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records, renditions = list(batch["record"]), list(batch["renditions"])
        errors = list(batch["error"])
        for i, frame in enumerate(batch["frame"]):
            if batch["end"][i] or batch["still"][i]:
                continue
            rec = FrameRecord.from_json(json.loads(records[i]))
            rgb = np.frombuffer(frame, dtype=np.uint8).reshape(rec.height, rec.width, 3)
            try:
                rec = frame_record(Sample(rec.time, rgb), self.model, self.cfg.views)
                renditions[i] = pickle.dumps(candidate_renditions(rec, rgb, self.cfg))
            except Exception as e:  # as locally: the source is skipped, the build goes on
                log.warning("pose extraction failed on a frame", exc_info=True)
                errors[i] = f"{type(e).__name__}: {e}"
            records[i] = json.dumps(rec.to_json())
        out = {k: v for k, v in batch.items() if k != "frame"}
        out["record"] = np.array(records, dtype=object)
        out["renditions"] = np.array(renditions, dtype=object)
        out["error"] = np.array(errors, dtype=object)
        return out


# ---- the driver ----------------------------------------------------------------------------
@dataclass
class _Pending:
    """A source being extracted: its chunks' records (keyed by time: a retried chunk's rows
    arrive twice) and end rows."""

    chunks: int
    records: dict[tuple[int, float | None], FrameRecord] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)  # chunk -> frames it yielded
    renditions: set[str] = field(default_factory=set)  # candidate rendition keys stored
    got: dict[int, int] = field(default_factory=dict)  # chunk -> distinct frames received
    error: str | None = None

    def add(self, chunk: int, rec: FrameRecord) -> bool:
        """Keep a record; False if it was already in (a duplicate)."""
        key = (chunk, rec.time)
        if key in self.records:
            return False
        self.records[key] = rec
        self.got[chunk] = self.got.get(chunk, 0) + 1
        return True

    def complete(self) -> bool:
        if self.error is not None:
            return True
        return len(self.ends) == self.chunks and all(
            self.got.get(k, 0) == n for k, n in self.ends.items()
        )


def _plan(
    srcs: list[Source], cfg: WorkerConfig, out: ExtractOutcome
) -> tuple[list[dict[str, Any]], dict[int, _Pending], dict[int, str]]:
    """Chunk rows for the sources whose poses are not cached yet."""
    rows: list[dict[str, Any]] = []
    pending: dict[int, _Pending] = {}
    shas: dict[int, str] = {}
    for i, src in enumerate(srcs):
        try:
            shas[i] = sha256_file(src.path)
        except OSError as e:
            out.errors[i] = source_error(src, e)
            continue
        if pose_cache(cfg, src.kind).load_poses(shas[i]) is not None:
            continue
        spans = [(0.0, None)] if src.kind == "image" else chunk_spans(src.path, cfg.fps, cfg.chunk_frames)
        pending[i] = _Pending(len(spans))
        for k, (start, end) in enumerate(spans):
            rows.append({"source": i, "chunk": k, "path": str(src.path), "name": src.name,
                         "kind": src.kind, "start": start, "end": math.nan if end is None else end})
    return rows, pending, shas


def _keep_renditions(blob: bytes, sha: str, kind: str, cfg: WorkerConfig) -> set[str]:
    """Store a frame's candidate renditions in the cache; their keys."""
    if not blob:
        return set()
    cache, found = pose_cache(cfg, kind), pickle.loads(blob)
    for key, data in found.items():
        cache.save_rendition(sha, key, cfg.spec.key(), cfg.spec.ext, data)
    return set(found)


def _assemble(src: Source, cfg: WorkerConfig, candidates: set[str]) -> SourceResult:
    """A freshly extracted source's result from the cache; candidate renditions it did not keep
    are dropped from the cache."""
    res = process_source(src, cfg, None)
    res.extracted = True
    cache = pose_cache(cfg, src.kind)
    for key in candidates - rendition_keys(res):
        cache.drop_rendition(res.sha256, key, cfg.spec.key(), cfg.spec.ext)
    return res


def _finish(i: int, p: _Pending, src: Source, sha: str, cfg: WorkerConfig, out: ExtractOutcome) -> None:
    if p.error is None and not p.records:
        p.error = source_error(src, SourceError(f"{src.path}: no decodable frames"))
    if p.error is not None:
        out.errors[i] = p.error
        return
    records = [p.records[key] for key in sorted(p.records, key=lambda c: (c[0], c[1] or 0.0))]
    pose_cache(cfg, src.kind).save_poses(sha, src.name, records)
    out.extracted.add(i)


def run_on_ray(
    srcs: list[Source],
    cfg: WorkerConfig,
    collect: Callable[[int, SourceResult], None],
    model_factory: Callable[[], Any],
    *,
    address: str | None = None,
    progress: bool = True,
    scratch_parent: Path | None = None,
) -> ExtractOutcome:
    """The Ray engine's share of a build: poses extracted on the cluster into the cache, and
    each source's result made from the cache by the local code and handed to `collect(i, res)`
    (extracted sources as they finish, cached ones at the end). Without a cache (--no-cache) a
    temporary one (under `scratch_parent`, the build's temp dir) serves this build only."""
    scratch = None if cfg.cache_dir else Path(tempfile.mkdtemp(prefix=".ray-cache-", dir=scratch_parent))
    try:
        if scratch is not None:
            cfg = replace(cfg, cache_dir=scratch)

        def assemble(i: int, candidates: set[str]) -> None:
            collect(i, _assemble(srcs[i], cfg, candidates))

        done = extract_on_ray(srcs, cfg, model_factory, address=address, progress=progress,
                              on_extracted=assemble)
        for i, src in enumerate(srcs):
            if i in done.errors:
                collect(i, SourceResult(src.name, src.kind, error=done.errors[i]))
            elif i not in done.extracted:
                collect(i, process_source(src, cfg, None))
        return done
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def extract_on_ray(
    srcs: list[Source],
    cfg: WorkerConfig,
    model_factory: Callable[[], Any],
    *,
    address: str | None = None,
    progress: bool = True,
    on_extracted: Callable[[int, set[str]], None] | None = None,
) -> ExtractOutcome:
    """Fill the extraction cache (cfg.cache_dir, required) for every source on a Ray cluster.

    Connects to `address` (None: Ray's default, i.e. RAY_ADDRESS or a new local cluster) unless
    Ray is already initialised in this process; a cluster it started is shut down afterwards.
    `on_extracted(i, candidate rendition keys)` is called as each source's poses are cached."""
    if cfg.cache_dir is None:
        raise ValueError("the Ray engine needs an extraction cache directory")
    ray = import_ray()
    out = ExtractOutcome()
    rows, pending, shas = _plan(srcs, cfg, out)
    if not rows:
        return out
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ClusterUnavailable(
                f"cannot reach the Ray cluster at {address or 'the default address'} ({e});"
                " start it with `ray start --head` or pass --address HOST:PORT; a cluster started"
                " with `ray start` wants its token: set RAY_AUTH_MODE=token here and copy the"
                " head's ~/.ray/auth_token"
            ) from None
    try:
        _stream(ray, rows, pending, srcs, shas, cfg, model_factory, progress, out, on_extracted)
    finally:
        if started:
            ray.shutdown()
    return out


def _stream(
    ray: Any,
    rows: list[dict[str, Any]],
    pending: dict[int, _Pending],
    srcs: list[Source],
    shas: dict[int, str],
    cfg: WorkerConfig,
    model_factory: Callable[[], Any],
    progress: bool,
    out: ExtractOutcome,
    on_extracted: Callable[[int, set[str]], None] | None,
) -> None:
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = False
    actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = (
        ray.data.from_items(rows, override_num_blocks=len(rows))
        .map_batches(decode_chunk, batch_size=1, num_cpus=DECODE_CPUS,
                     fn_kwargs={"fps": cfg.fps, "still_threshold": cfg.still_threshold})
        # Ray Data's actor pools restart dead actors and retry their calls by default
        # (max_restarts=-1, max_task_retries=-1); tasks are retried by Ray core.
        .map_batches(PoseActor.using(model_factory, cfg), batch_size=POSE_BATCH, num_cpus=ACTOR_CPUS,
                     compute=ray.data.ActorPoolStrategy(size=actors))
    )
    bar = Progress(len(pending), "extracting on ray", enabled=progress)
    for row in ds.iter_rows():
        i, k = int(row["source"]), int(row["chunk"])
        p = pending.get(i)
        if p is None or p.complete():
            continue  # a source already finished (or failed): late rows of a retried chunk
        if row["error"]:  # an end row's is complete; a frame row's names the exception
            err = str(row["error"])
            p.error = err if row["end"] else f"{srcs[i].name}: unexpected error ({err})"
        elif row["end"]:
            p.ends[k] = int(row["count"])
        else:
            rec = FrameRecord.from_json(json.loads(row["record"]))
            p.renditions |= _keep_renditions(row["renditions"], shas[i], srcs[i].kind, cfg)
            if p.add(k, rec):
                out.frames += 1
                out.model_runs += not rec.still
                bar.update(0, 1)
        if p.complete():
            _finish(i, p, srcs[i], shas[i], cfg, out)
            if on_extracted is not None and i in out.extracted:
                on_extracted(i, p.renditions)
            bar.update(1, 0)
    bar.close()
    log.info("ray: %d sources extracted, %d frames, %d model runs", len(out.extracted), out.frames,
             out.model_runs)
    for i, p in pending.items():
        if not p.complete():
            out.errors[i] = f"{srcs[i].name}: extraction did not finish on the cluster"
