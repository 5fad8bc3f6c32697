"""`kiosk index query`'s answer is the kiosk's: the nearest entry, within the kiosk's threshold
for what the visitor shows (a partial body is calibrated on its own profile), on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.app.mirror.matcher import Matcher
from kiosk.app.service.threshold import match_threshold
from kiosk.gallery.query import QueryResult, query_images, seen
from kiosk.gallery.reader import GalleryIndex
from kiosk.match.metrics import PROFILE_METRICS, Metric
from kiosk.pose.types import Pose

PHOTOS = ("backpackman.jpg", "frisbee.jpg", "frisbee_2.jpg", "tennis_in_crowd.jpg", "skiing.jpg",
          "with_computer.jpg", "baseball.jpg", "two_on_bench.jpg")
#: Where a visitor standing close is cut: this share of the photo's height kept.
CUTS = (1.0, 0.6, 0.45)


@pytest.fixture(scope="module")
def queries(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The demo photos whole and cut across (waist up, chest up), as a kiosk meets visitors."""
    root = tmp_path_factory.mktemp("query-photos")
    out = []
    for name in PHOTOS:
        with Image.open(shared_dir / "data/posenet-demo-images" / name) as im:
            for cut in CUTS:
                path = root / f"{Path(name).stem}-{int(cut * 100)}.png"
                im.convert("RGB").crop((0, 0, im.width, round(im.height * cut))).save(path)
                out.append(path)
    return out


def _config(tmp_path: Path, max_distance: float, metric: str) -> Path:
    path = tmp_path / "kiosk.yaml"
    path.write_text(f"match: {{max_distance: {max_distance}}}\nindex: {{metric: {metric}}}\n")
    return path


#: match.max_distance values the answers are compared at (calibrated units).
GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


@pytest.mark.parametrize("metric", [str(m) for m in Metric])
def test_the_answer_is_the_kiosk_matchers(built, pose_model, queries: list[Path], tmp_path: Path,
                                          metric: str) -> None:
    index = GalleryIndex.open(built.path)
    results = query_images(index, queries, pose_model, k=1, metric=metric)
    posed = [r for r in results if r.pose is not None and not r.error]
    assert len(posed) >= len(queries) // 2
    for max_distance in GRID:
        th = match_threshold(_config(tmp_path, max_distance, metric), index)
        matcher = Matcher(index, metric, max_distance)
        for r in posed:
            best = matcher.best(r.pose)
            shown = r.shown(th.raw)
            assert (None if shown is None else shown.entry_id) == (None if best is None else best[0]), \
                (r.image, max_distance)


def test_a_partial_body_has_its_own_threshold(built, pose_model, queries: list[Path], tmp_path: Path
                                              ) -> None:
    """Under the default metric the cut visitors show other profiles than the whole body, whose
    raw thresholds differ from the whole body's (the old single line gave them wrong answers)."""
    index = GalleryIndex.open(built.path)
    th = match_threshold(_config(tmp_path, 0.2, "trimmed"), index)
    results = [r for r in query_images(index, queries, pose_model, k=1, metric="trimmed")
               if r.pose is not None and not r.error]
    partial = [r for r in results if r.profile not in (None, "full")]
    assert partial, "no cut photo showed a partial body"
    limits = {round(th.raw(r.profile), 6) for r in partial}
    assert limits - {round(th.raw(None), 6)}
    assert all(seen(r.profile) != "whole pose" for r in results)


@pytest.mark.parametrize(
    ("profile", "said"),
    [(None, "whole pose"), ("upper", "upper"), ((0, 5, 6, 7, 8, 9, 10), "upper"),
     ((5, 6, 11, 12), "4 keypoints")],
)
def test_seen_names_the_profile(profile, said: str) -> None:
    assert seen(profile) == said


class OnePose:
    """A pose model twin that sees the same pose in every picture."""

    def __init__(self, pose: Pose) -> None:
        self.pose = pose

    def estimate(self, rgb: np.ndarray) -> list[Pose]:
        return [self.pose]


@pytest.mark.parametrize("metric", sorted(PROFILE_METRICS))
def test_too_few_keypoints_is_said(built, shared_dir: Path, metric: str) -> None:
    """A pose showing the face and shoulders only: the kiosk matches nothing, and says why."""
    scores = np.zeros(17, np.float32)
    scores[[0, 1, 2, 5, 6]] = 0.9  # three of the keypoints a profile may use (nose, shoulders)
    xy = np.stack([np.linspace(100, 200, 17), np.linspace(50, 400, 17)], axis=1).astype(np.float32)
    photo = shared_dir / "data/posenet-demo-images/backpackman.jpg"
    (r,) = query_images(GalleryIndex.open(built.path), [photo], OnePose(Pose(xy, scores, 0.9)), k=3,
                        metric=metric)
    assert r.matches == [] and r.profile is None
    assert r.error is not None and "too few body keypoints" in r.error
    said = r.to_dict(GalleryIndex.open(built.path), lambda profile: 0.2)
    assert said["shown"] is None and "seen" not in said and said["error"] == r.error


def test_to_dict_carries_the_verdict() -> None:
    from kiosk.gallery.reader import Match

    pose = Pose(np.zeros((17, 2), np.float32), np.ones(17, np.float32))

    class OneEntry:
        def entry(self, i: int):
            from types import SimpleNamespace

            return SimpleNamespace(source="a.jpg", frame_time=None, mirrored=False, title="a")

    r = QueryResult("q.jpg", pose, None, [Match(3, 0.25)], profile="upper")
    assert r.to_dict(OneEntry(), lambda p: 0.3 if p == "upper" else 0.1)["shown"] == 3
    assert r.to_dict(OneEntry(), lambda p: 0.2)["shown"] is None
    d = r.to_dict(OneEntry(), lambda p: 0.2)
    assert d["seen"] == "upper" and d["threshold"] == 0.2
