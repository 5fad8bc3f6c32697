"""Small twins for the kiosk loop's unit tests: poses, a scripted model, an index, cameras."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from kiosk.app.devices.camera.source import CameraError, CameraTimeout, EndOfStream
from kiosk.pose.types import Pose

# A standing person in a 720x1280 frame (x, y per COCO-17 keypoint).
STAND = np.array([
    [360, 200], [375, 185], [345, 185], [390, 195], [330, 195],
    [420, 300], [300, 300], [440, 420], [280, 420], [450, 530], [270, 530],
    [400, 600], [320, 600], [405, 800], [315, 800], [410, 1000], [310, 1000],
], dtype=np.float32)


def pose_at(xy: np.ndarray, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0,
            score: float = 0.9) -> Pose:
    xy = np.asarray(xy, dtype=np.float32)
    c = xy.mean(axis=0)
    return Pose((xy - c) * scale + c + np.array([dx, dy], np.float32), np.full(17, score, np.float32))


def squat(depth: float) -> np.ndarray:
    """STAND with hips and shoulders lowered and knees out by depth in [0, 1]."""
    xy = STAND.copy()
    xy[:13, 1] += 250 * depth
    xy[13:15, 0] += np.array([80, -80]) * depth
    xy[13:15, 1] += 80 * depth
    return xy


def arms_up() -> np.ndarray:
    xy = STAND.copy()
    xy[7:11, 1] = [180, 180, 60, 60]
    xy[7:11, 0] = [470, 250, 480, 240]
    return xy


class ScriptedModel:
    """estimate() returns poses_for(frame_number, frame)."""

    name = "scripted"
    family = "fake"
    delegate = "cpu"

    def __init__(self, poses_for: Callable[[int, np.ndarray], list[Pose]], delay: float = 0.01) -> None:
        self.poses_for = poses_for
        self.delay = delay  # like a model's invoke: the photo loader gets time meanwhile
        self.calls = 0
        self.last_timings = {"preprocess": 0.0, "invoke": 0.0, "decode": 0.0}

    def estimate(self, rgb: np.ndarray) -> list[Pose]:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        return list(self.poses_for(self.calls, rgb))


@dataclass(frozen=True)
class FakeEntry:
    id: int
    title: str
    credit: str
    licence: str
    keypoints: Pose
    rendition: Path


class FakeMatch(tuple):
    @property
    def entry_id(self) -> int:
        return self[0]

    @property
    def distance(self) -> float:
        return self[1]


class FakeIndex:
    """The GalleryIndex methods the loop uses, over in-memory poses and solid-colour renditions."""

    def __init__(self, root: Path, poses: Sequence[Pose], size: tuple[int, int] = (960, 1080),
                 index_id: str = "fake-1") -> None:
        from kiosk.match import pose_vector

        self.path = root
        self.index_id = index_id
        self.display_size = size
        self.entries: list[FakeEntry] = []
        root.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(7)
        self.colours = [tuple(int(v) for v in rng.integers(30, 230, 3)) for _ in poses]
        for i, p in enumerate(poses):
            path = root / f"{i:04d}.png"
            Image.new("RGB", size, self.colours[i]).save(path)
            self.entries.append(FakeEntry(i, f"Photo {i}", f"Archive {i}", "CC0", p, path))
        self._vectors = np.stack([pose_vector(p)[0] for p in poses]).astype(np.float32)
        self.queries = 0

    def __len__(self) -> int:
        return len(self.entries)

    def vectors(self) -> np.ndarray:
        return self._vectors

    def calibration(self) -> dict:
        """Uncalibrated: the config's match distances are raw cosine distances."""
        return {}

    def groups(self) -> np.ndarray:
        return np.arange(len(self.entries))

    def profile_table(self, profile: tuple[int, ...]) -> None:
        return None

    def _keypoints(self) -> np.ndarray:
        return np.stack([np.concatenate([e.keypoints.xy, e.keypoints.scores[:, None]], axis=1)
                         for e in self.entries])

    def search(self, pose: Pose, k: int = 1, metric: str = "visible",
               max_distance: float = float("inf")):
        """The visible metric by brute force (kiosk.match.visible), as GalleryIndex.search."""
        from kiosk.gallery.reader import Found
        from kiosk.match.visible import brute_visible

        if metric != "visible":
            return Found(None, self.query(pose, k, metric, max_distance))
        self.queries += 1
        kp = self._keypoints()
        profile, ids, d = brute_visible(kp[:, :, :2], kp[:, :, 2], pose.xy, pose.scores, k)
        return Found(profile, [FakeMatch((int(i), float(x))) for i, x in zip(ids, d, strict=True)
                               if i >= 0 and x <= max_distance])

    def distance(self, pose: Pose, entry_id: int, metric: str, profile: str | None = None) -> float:
        from kiosk.match.visible import eligible, visible_distance

        e = self.entries[entry_id].keypoints
        if profile is None or not eligible(e.scores, profile)[0]:
            return float("inf")
        return float(visible_distance(pose.xy, e.xy, profile))

    def query(self, pose: Pose, k: int = 1, metric: str = "cosine", max_distance: float = float("inf")):
        from kiosk.match import pose_vector

        return self.query_vector(*pose_vector(pose), k=k, metric=metric, max_distance=max_distance)

    def query_vector(self, vec: np.ndarray, conf: np.ndarray, k: int = 1, metric: str = "cosine",
                     max_distance: float = float("inf")):
        from kiosk.match import cosine_distance

        self.queries += 1
        d = np.asarray(cosine_distance(vec, self._vectors))
        order = np.argsort(d)[:k]
        return [FakeMatch((int(i), float(d[i]))) for i in order if d[i] <= max_distance]

    def entry(self, entry_id: int) -> FakeEntry:
        return self.entries[entry_id]

    def rendition_path(self, entry_id: int) -> Path:
        return self.entries[entry_id].rendition


class FakeCamera:
    """Frames numbered in their pixels (frame[0, 0, 0] = n % 256); scripted failures and stalls.

    plan(n) for capture number n may return "ok", "fail", "stall" (sleep past the timeout and
    raise CameraTimeout) or "end" (EndOfStream)."""

    def __init__(self, size: tuple[int, int] = (720, 1280), *, paced: bool = True, interval: float = 0.0,
                 plan: Callable[[int], str] | None = None, name: str = "fake") -> None:
        self.name = name
        self.paced = paced
        self.size = size
        self.interval = interval
        self.plan = plan or (lambda n: "ok")
        self.captures = 0
        self.started = self.closed = False
        self.lock = threading.Lock()
        self.release = threading.Event()

    def start(self) -> None:
        self.started = True

    def capture(self, timeout: float) -> np.ndarray:
        with self.lock:
            self.captures += 1
            n = self.captures
        what = self.plan(n)
        if what == "end":
            raise EndOfStream("fake: end")
        if what == "fail":
            raise CameraError(f"fake: capture {n} failed")
        if what == "hold":  # wait until released (a camera with nothing new to say)
            self.release.wait(5.0)
        if what == "stall":
            time.sleep(timeout)
            raise CameraTimeout(f"fake: no frame within {timeout} s")
        if self.interval:
            time.sleep(self.interval)
        w, h = self.size
        frame = np.zeros((h, w, 3), np.uint8)
        frame[0, 0, 0] = n % 256
        frame[0, 0, 1] = (n // 256) % 256
        return frame

    def close(self) -> None:
        self.closed = True


def frame_number(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])
