"""`kiosk eval match`, retrieval part: does the archive give a visitor back their own photo,
and does it say "no good match" when it does not hold the visitor?

For every archive person and query kind (kiosk.gallery.evalqueries) the pose model runs on the
query image; the pose nearest the person's own keypoints is the visitor (a crop of a group
photo holds other people, whom a kiosk's tracker would not follow); it is searched with every
metric, and:

- top-1 / top-5: the person's own entry (or its mirrored twin) is first / among the first 5;
- matched: top-1 is right *and* within the kiosk's threshold (match.max_distance);
- no-match, the person's source left out: with every entry of the person's photo (or video)
  taken out of the archive, the nearest remaining entry lies beyond the threshold, i.e. the
  kiosk shows "no good match" on a pose the archive does not hold. A source is the unit the
  calibration measures the archive's spacing in (an entry's nearest neighbour is sought in
  other sources: kiosk.gallery.calibrate), so u = max_distance leaves "no good match" for about
  1 - u of such poses. Taking out = skipping their ids in a ranked answer long enough to reach
  past them, which equals searching an archive without them (the calibration table is the full
  archive's; for ``trimmed``, whose first stage keeps the RERANK nearest, the source's entries
  take places in that stage: a near approximation);
- no-match, only the person (and twin) left out: stricter where a photo holds several people
  in one pose (a team, dancers in step): the archive still holds the pose then, in their
  photo-mate, and a photo is the right answer.
A query whose image yields no pose counts as a miss (and as "no match").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.enums import BandSide, FlipViews, ScaleViews
from kiosk.gallery.calibrate import MatchThreshold, kiosk_threshold
from kiosk.gallery.evalqueries import KINDS, Person, query_image, sides_of
from kiosk.gallery.extract import dominant
from kiosk.gallery.protocol import MatchIndex
from kiosk.gallery.reader import Found
from kiosk.gallery.sources import SourceError, iter_video_frames, load_image
from kiosk.pose.flip import cycles_flips
from kiosk.pose.model import PoseModel
from kiosk.pose.scales import MARGINS, uses_scale_views, voted_estimate
from kiosk.pose.types import Pose
from kiosk.pose.views import nearest_pose

log = logging.getLogger(__name__)

#: Answers fetched a query: top-5 plus room for the person's own two entries.
K = 7


@dataclass(frozen=True)
class Query:
    person: int  # index into the people list
    kind: str
    pose: Pose | None
    side: BandSide | None = None  # an occluded query's band (evalqueries.sides_of)


@dataclass
class KindStats:
    queries: int = 0
    detected: int = 0
    top1: int = 0
    top5: int = 0
    matched: int = 0
    no_match: int = 0  # the person's source left out
    no_match_person: int = 0  # only the person left out

    def to_dict(self) -> dict[str, Any]:
        n = max(self.queries, 1)
        return {"queries": self.queries, "detected": self.detected,
                "top1": round(self.top1 / n, 3), "top5": round(self.top5 / n, 3),
                "matched": round(self.matched / n, 3), "no_match": round(self.no_match / n, 3),
                "no_match_person": round(self.no_match_person / n, 3)}


@dataclass
class MetricStats:
    metric: str
    kinds: dict[str, KindStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: s.to_dict() for k, s in self.kinds.items()}


def detect_queries(people: Sequence[Person], paths: dict[str, Path], models: dict[str, Any],
                   kinds: Iterable[str] = KINDS, keypoint_score: float = 0.2,
                   scale_views: str = ScaleViews.AUTO, flip_views: str = FlipViews.AUTO) -> list[Query]:
    """Run the pose model of each kind (models[kind]) on every person's query image.

    paths: source name (as in the index) -> image file. scale_views (pose.scale_views): where
    it holds for a kind's model (uses_scale_views), the person's pose is voted over the
    kiosk's cycled sizes (voted_estimate: what the kiosk sees of a visitor holding still), with
    every other size mirrored where flip_views (pose.flip_views) cycles flips for the model
    (cycles_flips); elsewhere the model's pose on the image.
    """
    kinds = tuple(kinds)
    out: list[Query] = []
    by_source: dict[str, list[int]] = {}
    for i, p in enumerate(people):
        by_source.setdefault(p.source, []).append(i)
    for source, members in sorted(by_source.items()):
        frames = source_frames(paths[source], {people[i].frame_time for i in members})
        for i in members:
            rgb = frames[people[i].frame_time]
            for kind in kinds:
                margins = MARGINS if uses_scale_views(scale_views, models[kind].family) else (0.0,)
                flips = cycles_flips(flip_views, models[kind].delegate)
                for side in sides_of(kind):
                    img = query_image(rgb, people[i], kind, side)
                    if img is not None:
                        pose = _query_pose(models[kind], img, people[i], kind, (margins, flips),
                                           keypoint_score)
                        out.append(Query(i, kind, pose, side))
    log.info("%d query images run for %d people", len(out), len(people))
    return out


def _query_pose(model: PoseModel, img: np.ndarray, person: Person, kind: str,
                views: tuple[Sequence[float], bool], keypoint_score: float) -> Pose | None:
    """The visitor's pose in a query image (img (H, W, 3) RGB), as the kiosk would see them;
    views: the margins voted over, and whether every other one is mirrored (voted_estimate)."""
    ref = reference_pose(person, kind, img.shape[1])

    def pick(poses: list[Pose]) -> Pose | None:
        return the_visitor(poses, ref, img.shape[:2], keypoint_score)

    margins, flips = views
    return voted_estimate(model, img, pick, margins, flips) if img.size else None


def source_frames(path: Path, times: set[float | None]) -> dict[float | None, np.ndarray]:
    """The source's pictures the people stand in, by frame time (Person.frame_time): a photo's
    under None; a video's frames at the given times (as the index stores them), decoded in one
    pass. Raises SourceError (or ImageLoadError) naming the file when it cannot be read, or a
    frame is no longer in it."""
    if times == {None}:
        return {None: load_image(path)}
    wanted = {t for t in times if t is not None}
    frames = dict(iter_video_frames(path, None, times=wanted))
    if missing := sorted(wanted - set(frames)):
        raise SourceError(f"{path}: no frame at {missing[0]:g} s, where the archive has one"
                          " (the file changed since the build? rebuild the archive)")
    return {t: frames[t] for t in wanted}


def reference_pose(p: Person, kind: str, width: int) -> Pose:
    """The person's archive pose in the query image's pixels."""
    ref = p.pose.translated(-p.crop_box[0], -p.crop_box[1])
    return ref.flipped(width) if kind == "mirrored" else ref


def the_visitor(poses: Sequence[Pose], ref: Pose, shape: tuple[int, ...],
                keypoint_score: float) -> Pose | None:
    """The detected pose that is the person shown (a crop of a group photo holds others too):
    the one nearest the reference keypoints inside the image, else the dominant pose."""
    h, w = shape[:2]
    inside = ((ref.xy[:, 0] >= 0) & (ref.xy[:, 0] < w) & (ref.xy[:, 1] >= 0) & (ref.xy[:, 1] < h))
    best, _ = nearest_pose(poses, ref, keypoint_score, ref_mask=inside)
    return best if best is not None else dominant(poses, keypoint_score)


def evaluate(index: MatchIndex, people: Sequence[Person], queries: Sequence[Query],
             metrics: Sequence[str], max_distance: float,
             progress: Callable[[str], None] | None = None) -> list[MetricStats]:
    """Score the queries under each metric (see the module doc)."""
    sources = source_entries(index.groups())
    results = []
    for metric in metrics:
        th = kiosk_threshold(index, metric, max_distance, 0.0)
        stats = MetricStats(metric, {k: KindStats() for k in dict.fromkeys(q.kind for q in queries)})
        for q in queries:
            s = stats.kinds[q.kind]
            s.queries += 1
            if q.pose is None:
                s.no_match += 1
                s.no_match_person += 1
                continue
            s.detected += 1
            person = people[q.person]
            source = sources[person.entry_id]
            found = index.search(q.pose, k=K, metric=metric)  # as the kiosk searches
            ids = [m.entry_id for m in found.matches]
            own = person.ids
            if ids and ids[0] in own:
                s.top1 += 1
                if th.to_unit(found.matches[0].distance, found.profile) <= max_distance:
                    s.matched += 1
            if any(i in own for i in ids[:5]):
                s.top5 += 1
            s.no_match_person += _no_match(found, own, th, max_distance)
            if len(source) > len(own):  # answers past every entry of the person's source
                found = index.search(q.pose, k=min(K + len(source), len(index)), metric=metric)
            s.no_match += _no_match(found, source, th, max_distance)
        results.append(stats)
        if progress:
            progress(metric)
    return results


def _no_match(found: Found, left_out: frozenset[int], th: MatchThreshold, max_distance: float
              ) -> bool:
    """Whether the nearest answer outside left_out (entry ids) is beyond max_distance (units)."""
    rest = [m for m in found.matches if m.entry_id not in left_out]
    return not rest or th.to_unit(rest[0].distance, found.profile) > max_distance


def source_entries(groups: np.ndarray) -> list[frozenset[int]]:
    """Entry id -> the ids of every entry of its source (every person of a photo, mirrored
    twins, every frame of a video); groups: (N,) the index's source numbers (MatchIndex.groups)."""
    ids: dict[int, list[int]] = {}
    for i, g in enumerate(np.asarray(groups).tolist()):  # one pass: a video archive has many sources
        ids.setdefault(g, []).append(i)
    members = {g: frozenset(v) for g, v in ids.items()}
    return [members[g] for g in np.asarray(groups).tolist()]


def person_free_rate(images: Sequence[Path], model: Any, accept: Callable[[Pose, int, int], bool],
                     keypoint_score: float = 0.2) -> tuple[int, int]:
    """(images where the dominant pose is accepted as a visitor, images read) on person-free
    photos; an image that cannot be read is left out with a warning naming it."""
    hits = read = 0
    for path in images:
        try:
            rgb = load_image(path)
        except (SourceError, ValueError, OSError) as exc:
            log.warning("person filter: %s left out (%s)", path, exc)
            continue
        read += 1
        pose = dominant(model.estimate(rgb), keypoint_score)
        if pose is not None and accept(pose, rgb.shape[1], rgb.shape[0]):
            hits += 1
    return hits, read
