"""One source in, its entries out: decode, estimate (or take from the cache), select, filter,
dedupe and render. Runs in the builder's process (--workers 1) or in worker processes.

The per-frame pieces (`frame_record`: a sample through the model into the cache's record;
`source_error`: the reason a source is skipped; `pose_cache`: where its poses are cached) are
shared with the Ray engine (kiosk/gallery/cluster.py), which runs them on cluster workers and
then calls `process_source` with the poses already cached."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.checksum import sha256_file
from kiosk.core.enums import Views
from kiosk.gallery import extract as ex
from kiosk.gallery.cache import (
    ExtractionCache,
    FrameRecord,
    pose_from_list,
    pose_to_list,
    short_hash,
)
from kiosk.gallery.rendition import RenditionSpec, crop_box, render, to_rendition_coords
from kiosk.gallery.sampling import DEFAULT_CHUNK_FRAMES, Sample, sample_source
from kiosk.gallery.sources import Source, SourceError, iter_video_frames, load_image
from kiosk.pose.types import Pose
from kiosk.pose.views import VIEWS_VERSION, with_views

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    fps: float | None
    every_person: bool
    mirror: bool
    filters: ex.Filters
    spec: RenditionSpec
    cache_dir: Path | None
    model_name: str
    model_sha256: str
    views: Views  # how a photo's people are seen (kiosk/pose/views.py); video frames: once
    still_threshold: float = 0.0  # 0: every sampled frame goes to the model
    chunk_frames: int = DEFAULT_CHUNK_FRAMES


@dataclass(frozen=True)
class ModelLoader:
    """Loads the build's pose model in a worker (a process of the pool or a Ray actor): one
    interpreter thread, since the workers themselves are the parallelism."""

    model: str | None
    models_dir: Path | None

    def __call__(self) -> Any:
        from kiosk.pose.engine import load_pose_model

        return load_pose_model(self.model, models_dir=self.models_dir, num_threads=1)


@dataclass
class Draft:
    """A kept entry before it has an id."""

    frame_time: float | None
    crop_box: tuple[int, int, int, int]
    mirrored: bool
    pose_score: float
    keypoints: Pose  # rendition coordinates
    vector: np.ndarray
    confidences: np.ndarray
    rendition: bytes


@dataclass
class SourceResult:
    name: str
    kind: str
    sha256: str = ""
    error: str | None = None
    extracted: bool = False  # the model ran (cache miss)
    frames_seen: int = 0
    frame_size: tuple[int, int] | None = None
    discarded: Counter[str] = field(default_factory=Counter)
    drafts: list[Draft] = field(default_factory=list)


def pose_cache(cfg: WorkerConfig, kind: str) -> ExtractionCache:
    """The cache of a source's poses: keyed by what they depend on (model; for photos seen
    in views, the views and VIEWS_VERSION; for videos the sampling rate and, when still frames
    are skipped, the threshold and chunk length)."""
    s: dict[str, Any] = {"model": cfg.model_name, "model_sha256": cfg.model_sha256}
    if kind != "video" and cfg.views is not Views.PHOTO:  # PHOTO: the key of the poses before views
        s["views"] = {"views": str(cfg.views), "version": VIEWS_VERSION}
    if kind == "video":
        s["fps"] = cfg.fps
        if cfg.still_threshold > 0:
            s["still"] = {"threshold": cfg.still_threshold, "chunk_frames": cfg.chunk_frames}
    return ExtractionCache(cfg.cache_dir, s)


def frame_record(sample: Sample, model: Any, views: Views) -> FrameRecord:
    """The record of one sampled frame: its size and the model's poses (none if still).

    A photo (sample.time None) is seen through `views` (kiosk.pose.views); a video frame by the
    model alone: its neighbours are already other measurements of nearly the same pose, and
    seven model runs a frame would multiply the cost of a video archive by seven.
    Poses are round-tripped through the cache format, so a rebuild from the cache is identical."""
    h, w = sample.rgb.shape[:2]
    if sample.still:
        return FrameRecord(sample.time, w, h, [], still=True)
    seer = with_views(model, views) if sample.time is None else model
    poses = [pose_from_list(pose_to_list(p)) for p in seer.estimate(sample.rgb)]
    return FrameRecord(sample.time, w, h, poses)


def source_error(src: Source, e: BaseException) -> str:
    """Why a source is skipped (names the source, never the curator's absolute path)."""
    if isinstance(e, SourceError):
        return str(e).replace(str(src.path), src.name)
    if isinstance(e, OSError):
        return f"{src.name}: cannot read ({e.strerror or e})"
    log.warning("%s: unexpected error, source skipped", src.name, exc_info=e)
    return f"{src.name}: unexpected error ({type(e).__name__}: {e})"


def _decide(rec: FrameRecord, cfg: WorkerConfig, dedupe: ex.Deduper, res: SourceResult) -> list[Pose]:
    """The poses of a frame that become entries; discards are counted in res."""
    if rec.still:
        res.discarded[ex.STILL] += 1
        return []
    cands = ex.select(rec.poses, cfg.every_person, cfg.filters.keypoint_score)
    if not cands:
        res.discarded[ex.NO_PERSON] += 1
        return []
    kept = []
    for p in cands:
        reason = ex.reject_reason(p, rec.height, cfg.filters)
        if reason is None and not dedupe.admit(ex.pose_vector(p)[0]):
            reason = ex.DUPLICATE
        if reason:
            res.discarded[reason] += 1
        else:
            kept.append(p)
    return kept


def _rendition_key(t: float | None, box: tuple[int, int, int, int], mirrored: bool) -> str:
    return short_hash([t, list(box), mirrored], 16)


def _drafts_for(
    pose: Pose, rec: FrameRecord, cfg: WorkerConfig
) -> list[tuple[bool, tuple[int, int, int, int], Pose, np.ndarray, np.ndarray]]:
    box = crop_box(pose, rec.width, rec.height, cfg.spec, cfg.filters.keypoint_score)
    out = []
    for mirrored in (False, True) if cfg.mirror else (False,):
        p = pose.flipped(rec.width) if mirrored else pose
        vec, conf = ex.pose_vector(p)
        kp = to_rendition_coords(pose, box, cfg.spec.size, mirrored)
        out.append((mirrored, box, kp, vec, conf))
    return out


def candidate_renditions(rec: FrameRecord, rgb: np.ndarray, cfg: WorkerConfig) -> dict[str, bytes]:
    """{rendition cache key: bytes} for every pose of a frame that passes the filters, before the
    within-source dedupe (which needs the whole source). The Ray engine renders these on the
    worker that holds the frame, so assembling from the cache never decodes a video again."""
    out: dict[str, bytes] = {}
    if rec.still:
        return out
    for pose in ex.select(rec.poses, cfg.every_person, cfg.filters.keypoint_score):
        if ex.reject_reason(pose, rec.height, cfg.filters) is None:
            for mirrored, box, *_ in _drafts_for(pose, rec, cfg):
                out[_rendition_key(rec.time, box, mirrored)] = render(rgb, box, cfg.spec, mirrored)
    return out


def rendition_keys(res: SourceResult) -> set[str]:
    """The rendition cache keys of a result's entries."""
    return {_rendition_key(d.frame_time, d.crop_box, d.mirrored) for d in res.drafts}


def process_source(src: Source, cfg: WorkerConfig, model: Any) -> SourceResult:
    """Everything about one source; never raises for a bad file (the reason goes in .error).
    `model` may be None when the source's poses are known to be cached."""
    res = SourceResult(src.name, src.kind)
    try:
        res.sha256 = sha256_file(src.path)
        _process(src, cfg, model, res)
    except Exception as e:  # one bad file never aborts a build; the reason is reported
        res.error = source_error(src, e)
        res.drafts.clear()
    return res


def _process(src: Source, cfg: WorkerConfig, model: Any, res: SourceResult) -> None:
    cache = pose_cache(cfg, src.kind)
    spec_key, ext = cfg.spec.key(), cfg.spec.ext
    dedupe = ex.Deduper(cfg.filters.dedupe_distance)
    frames = cache.load_poses(res.sha256)
    pending: dict[float | None, list[tuple[int, tuple[int, int, int, int], bool]]] = {}
    slots: list[Draft | None] = []

    def add(pose: Pose, rec: FrameRecord, rgb: np.ndarray | None) -> None:
        for mirrored, box, kp, vec, conf in _drafts_for(pose, rec, cfg):
            key = _rendition_key(rec.time, box, mirrored)
            data = cache.load_rendition(res.sha256, key, spec_key, ext)
            if data is None and rgb is not None:
                data = render(rgb, box, cfg.spec, mirrored)
                cache.save_rendition(res.sha256, key, spec_key, ext, data)
            if data is None:
                pending.setdefault(rec.time, []).append((len(slots), box, mirrored))
            slots.append(Draft(rec.time, box, mirrored, pose.score, kp, vec, conf, data or b""))

    if frames is None:
        res.extracted = True
        frames = []
        for sample in sample_source(src, cfg.fps, cfg.still_threshold, cfg.chunk_frames):
            rec = frame_record(sample, model, cfg.views)
            frames.append(rec)
            res.frames_seen += 1
            res.frame_size = (rec.width, rec.height)
            for pose in _decide(rec, cfg, dedupe, res):
                add(pose, rec, sample.rgb)
        if not frames:
            raise SourceError(f"{src.path}: no decodable frames")
        cache.save_poses(res.sha256, src.name, frames)
    else:
        for rec in frames:
            res.frames_seen += 1
            res.frame_size = (rec.width, rec.height)
            for pose in _decide(rec, cfg, dedupe, res):
                add(pose, rec, None)
    if pending:  # cached poses, renditions not cached: decode just those frames
        _render_pending(src, cfg, cache, res.sha256, pending, slots)
    res.drafts = [d for d in slots if d is not None]


def _render_pending(
    src: Source,
    cfg: WorkerConfig,
    cache: ExtractionCache,
    sha: str,
    pending: dict[float | None, list[tuple[int, tuple[int, int, int, int], bool]]],
    slots: list[Draft | None],
) -> None:
    if src.kind == "image":
        it = iter([(None, load_image(src.path))])
    else:
        it = iter_video_frames(src.path, cfg.fps, times={t for t in pending if t is not None})
    for t, rgb in it:
        for slot, box, mirrored in pending.pop(t, []):
            data = render(rgb, box, cfg.spec, mirrored)
            cache.save_rendition(sha, _rendition_key(t, box, mirrored), cfg.spec.key(), cfg.spec.ext, data)
            d = slots[slot]
            assert d is not None
            d.rendition = data
    for slots_left in pending.values():  # frames that no longer decode: drop those entries
        for slot, _, _ in slots_left:
            slots[slot] = None
