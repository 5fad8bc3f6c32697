"""Query an index with photos: the main pose of each photo and its top-k entries, and what the
kiosk would do with them (shown, or "No good match")."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.core.enums import Views
from kiosk.gallery.extract import Filters, dominant
from kiosk.gallery.reader import GalleryIndex, Match
from kiosk.gallery.sources import SourceError, load_image
from kiosk.match.metrics import PROFILE_METRICS
from kiosk.match.visible import MIN_SEEN, PROFILES, Profile
from kiosk.pose.types import Pose
from kiosk.pose.views import with_views

log = logging.getLogger(__name__)

#: The kiosk's raw match threshold for a query's visible profile (None: the whole body, or a
#: metric without profiles); kiosk.app.service.threshold.MatchThreshold.raw is one.
ThresholdFor = Callable[[Profile | None], float]


@dataclass
class QueryResult:
    image: str
    pose: Pose | None
    rgb: np.ndarray | None
    matches: list[Match] = field(default_factory=list)
    error: str | None = None
    profile: Profile | None = None  # the visible profile searched (Found.profile)

    def shown(self, threshold: ThresholdFor) -> Match | None:
        """The entry the kiosk would show: the nearest, when within the kiosk's threshold for
        this query's profile; None: "No good match" (or no pose)."""
        first = self.matches[0] if self.matches else None
        return first if first is not None and first.distance <= threshold(self.profile) else None

    def to_dict(self, index: GalleryIndex, threshold: ThresholdFor | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"image": self.image, "matches": []}
        if self.error:
            out["error"] = self.error
        if self.pose is not None:
            out["pose_score"] = round(self.pose.score, 6)
        if self.pose is not None and self.error is None:  # else no profile was searched
            out["seen"] = seen(self.profile)
        if threshold is not None and self.pose is not None:
            out["threshold"] = round(threshold(self.profile), 6)
            shown = self.shown(threshold)
            out["shown"] = None if shown is None else shown.entry_id
        for m in self.matches:
            e = index.entry(m.entry_id)
            out["matches"].append({
                "entry_id": m.entry_id,
                "source": e.source,
                "frame_time": e.frame_time,
                "mirrored": e.mirrored,
                "distance": round(m.distance, 6),
                "title": e.title,
            })
        return out


def index_views(index: GalleryIndex) -> Views:
    """How the index's builder saw each person (`model.views` in the manifest; indexes built
    before views were stored saw the photo only)."""
    return Views.parse(str((index.manifest.get("model") or {}).get("views", Views.PHOTO)), "model.views")


def load_query_model(index: GalleryIndex, model: str | None, models_dir: Path | None) -> Any:
    """The model named, else the one the index was built with; either sees a query photo the
    way the builder saw the archive's photos (the index's views)."""
    from kiosk.pose.engine import load_pose_model

    name = model or (index.manifest.get("model") or {}).get("name") or None
    return with_views(load_pose_model(name, models_dir=models_dir), index_views(index))


def query_images(
    index: GalleryIndex,
    images: list[Path],
    model: Any,
    k: int = 3,
    metric: str = "cosine",
    keypoint_score: float = Filters.keypoint_score,
    min_pose_score: float = Filters.min_pose_score,
) -> list[QueryResult]:
    """The dominant pose of each image and its top-k; a pose below min_pose_score (MoveNet
    always answers one pose, even for an empty room) counts as no person."""
    results = []
    for img in images:
        try:
            rgb = load_image(Path(img))
        except SourceError as e:
            results.append(QueryResult(str(img), None, None, error=str(e)))
            continue
        pose = dominant(model.estimate(rgb), keypoint_score)
        if pose is None or pose.score < min_pose_score:
            why = "" if pose is None else f" (pose score {pose.score:.2f} < {min_pose_score})"
            results.append(QueryResult(str(img), None, rgb, error=f"no person found{why}"))
            continue
        results.append(_searched(index, str(img), pose, rgb, k, metric))
    return results


def _searched(index: GalleryIndex, image: str, pose: Pose, rgb: np.ndarray, k: int, metric: str
              ) -> QueryResult:
    """The pose's top-k as the kiosk searches (its visible profile kept for the threshold)."""
    found = index.search(pose, k=k, metric=metric)
    few = metric in PROFILE_METRICS and found.profile is None  # the kiosk matches nothing then
    why = f"too few body keypoints seen to match (fewer than {MIN_SEEN})" if few else None
    return QueryResult(image, pose, rgb, [Match(m.entry_id, m.distance) for m in found.matches],
                       why, found.profile)


def seen(profile: Profile | None) -> str:
    """What a query showed, in words: a stored profile's name ("full", "upper", ...), else how
    many keypoints its own profile holds; "whole pose" for the metrics without profiles."""
    if profile is None:
        return "whole pose"
    if isinstance(profile, str):
        return profile
    named = {v: k for k, v in PROFILES.items()}
    return named.get(tuple(profile), f"{len(profile)} keypoints")
