"""Per-source extraction cache, keyed by content hash, so a rebuild only processes new sources.

Layout under the cache root (default: kiosk.core.paths.cache_dir() / "builder"):

    poses/<settings>/<sha[:2]>/<sha256>.json       every frame's poses (before any filter)
    renditions/<spec>/<sha[:2]>/<sha256>-<key>.jpg rendered crops, reused when unchanged

<settings> hashes what the poses depend on (model sha256, fps for videos, extractor version,
kiosk.pose.preprocess.PREPROCESS_VERSION);
filters, selection and metadata are applied after the cache, so changing them never re-runs the
model. Writes are atomic (temp file + rename), so parallel workers and interrupted builds never
leave a half-written record; unreadable records are treated as misses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.pose.preprocess import PREPROCESS_VERSION
from kiosk.pose.types import Pose

log = logging.getLogger(__name__)

#: Bump when what is cached (or how frames are sampled) changes meaning.
EXTRACTOR_VERSION = 1


def short_hash(obj: Any, n: int = 16) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; an index is read by the kiosk's own user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pose_to_list(p: Pose) -> list[Any]:
    return [round(p.score, 6), np.round(p.xy, 3).ravel().tolist(), np.round(p.scores, 6).tolist()]


def pose_from_list(v: list[Any]) -> Pose:
    return Pose(np.asarray(v[1], dtype=np.float32).reshape(17, 2), np.asarray(v[2]), v[0])


class FrameRecord:
    """One sampled frame: time (None for a photo), size (w, h) and the poses found; `still`:
    the model was not run (the frame barely differed from the last estimated one)."""

    __slots__ = ("height", "poses", "still", "time", "width")

    def __init__(
        self, time: float | None, width: int, height: int, poses: list[Pose], still: bool = False
    ) -> None:
        self.time, self.width, self.height, self.poses = time, width, height, poses
        self.still = still

    def to_json(self) -> dict[str, Any]:
        d = {"t": self.time, "w": self.width, "h": self.height,
             "poses": [pose_to_list(p) for p in self.poses]}
        return {**d, "still": True} if self.still else d

    @classmethod
    def from_json(cls, f: dict[str, Any]) -> FrameRecord:
        poses = [pose_from_list(p) for p in f["poses"]]
        return cls(f["t"], f["w"], f["h"], poses, bool(f.get("still", False)))


class ExtractionCache:
    def __init__(self, root: Path | None, settings: dict[str, Any]) -> None:
        self.root = Path(root) if root is not None else None
        self.settings = {**settings, "extractor_version": EXTRACTOR_VERSION,
                         "preprocess_version": PREPROCESS_VERSION}
        self.settings_key = short_hash(self.settings)

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def _pose_path(self, sha: str) -> Path:
        assert self.root is not None
        return self.root / "poses" / self.settings_key / sha[:2] / f"{sha}.json"

    def load_poses(self, sha: str) -> list[FrameRecord] | None:
        if self.root is None:
            return None
        path = self._pose_path(sha)
        try:
            data = json.loads(path.read_text())
            return [FrameRecord.from_json(f) for f in data["frames"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("%s: unreadable cache record, re-extracting (%s)", path, e)
            return None

    def save_poses(self, sha: str, source_name: str, frames: list[FrameRecord]) -> None:
        if self.root is None:
            return
        data = {
            "source_sha256": sha,
            "source": source_name,
            "settings": self.settings,
            "frames": [f.to_json() for f in frames],
        }
        atomic_write(self._pose_path(sha), json.dumps(data, separators=(",", ":")).encode())

    def pose_record_path(self, sha: str) -> Path | None:
        return self._pose_path(sha) if self.root is not None else None

    # ---- renditions ----------------------------------------------------------------
    def _rendition_path(self, sha: str, key: str, spec_key: str, ext: str) -> Path:
        assert self.root is not None
        return self.root / "renditions" / short_hash(spec_key, 12) / sha[:2] / f"{sha}-{key}{ext}"

    def load_rendition(self, sha: str, key: str, spec_key: str, ext: str) -> bytes | None:
        if self.root is None:
            return None
        try:
            return self._rendition_path(sha, key, spec_key, ext).read_bytes()
        except OSError:
            return None

    def save_rendition(self, sha: str, key: str, spec_key: str, ext: str, data: bytes) -> None:
        if self.root is not None:
            atomic_write(self._rendition_path(sha, key, spec_key, ext), data)

    def drop_rendition(self, sha: str, key: str, spec_key: str, ext: str) -> None:
        if self.root is not None:
            self._rendition_path(sha, key, spec_key, ext).unlink(missing_ok=True)
