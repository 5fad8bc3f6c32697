"""`MatchIndex`: what the kiosk (loop, matcher, service) uses of a gallery index.

Implemented by `kiosk.gallery.reader.GalleryIndex` (a built index on disk, memory-mapped) and by
its twin `kiosk.gallery.fake.FakeIndex` (in-memory poses, solid-colour renditions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from kiosk.match.metrics import VISIBLE
from kiosk.pose.types import Pose

if TYPE_CHECKING:
    from kiosk.gallery.reader import Found


class IndexEntry(Protocol):
    """One photo of the index (what the screen shows and captions)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def credit(self) -> str: ...
    @property
    def licence(self) -> str: ...
    @property
    def keypoints(self) -> Pose: ...  # in rendition pixels
    @property
    def rendition(self) -> Path: ...


class IndexMatch(Protocol):
    """One answer of a query: the entry id and its distance (smaller is closer)."""

    @property
    def entry_id(self) -> int: ...
    @property
    def distance(self) -> float: ...


@runtime_checkable
class MatchIndex(Protocol):
    index_id: str  # the build's id (manifest.json), shown in the status file
    path: Path  # the index directory as opened
    display_size: tuple[int, int]  # (width, height) of the renditions

    @property
    def model_name(self) -> str | None:
        """The pose model the index was built with (its manifest names it; None if it does not)."""
        ...

    def __len__(self) -> int: ...

    def vectors(self) -> np.ndarray:
        """(N, 34) float32 normalised pose vectors, row i = entry i."""
        ...

    def query(self, pose: Pose, k: int = 1, metric: str = "cosine",
              max_distance: float = float("inf")) -> Sequence[IndexMatch]:
        """The k nearest entries to pose by metric (Metric), closest first."""
        ...

    def query_vector(self, vec: np.ndarray, conf: np.ndarray, k: int = 1, metric: str = "cosine",
                     max_distance: float = float("inf")) -> Sequence[IndexMatch]:
        """query() for a pose already normalised: vec (34,) from pose_vector, conf (17,)."""
        ...

    def search(self, pose: Pose, k: int = 1, metric: str = "cosine",
               max_distance: float = float("inf")) -> Found:
        """query() with the visible profile used (Found.profile; None for cosine/weighted)."""
        ...

    def distance(self, pose: Pose, entry_id: int, metric: str,
                 profile: str | tuple[int, ...] | None = None) -> float:
        """One entry's distance to the pose (visible: under the given profile)."""
        ...

    def groups(self) -> np.ndarray:
        """(N,) each entry's source number (mirrored twins and video frames share one)."""
        ...

    def strands(self) -> np.ndarray:
        """(N,) int64: entries that run on as a flipbook share a number (the frames of one video,
        one orientation); every other entry (a photo's person, a mirrored twin) has its own."""
        ...

    def calibration(self) -> dict[str, Any]:
        """The distance calibration block (kiosk.gallery.calibrate); {} when uncalibrated."""
        ...

    def profile_table(self, profile: str | tuple[int, ...], *, wait: bool = True,
                      metric: str = VISIBLE) -> list[float] | None:
        """A profile's calibration table under a profile metric (a dynamic profile, or a stored
        one whose stored table is stale), or None (wait=False: None until
        a background computation has it; see kiosk.gallery.calibrate.DynamicTables)."""
        ...

    def keypoints(self) -> np.ndarray:
        """(N, 17, 3) float32 (x, y, score) of every entry, rendition pixels."""
        ...

    def entry(self, entry_id: int) -> IndexEntry: ...

    def rendition_path(self, entry_id: int) -> Path: ...

    def close(self) -> None:
        """Release the index's files (memory maps); the index is not used afterwards."""
        ...
