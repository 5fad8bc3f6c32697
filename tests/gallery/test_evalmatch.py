"""`kiosk eval match`: query images made as a kiosk sees visitors, and the scoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kiosk.cli.evalmatch_cmd import format_report
from kiosk.core.enums import BandSide
from kiosk.gallery.calibrate import MatchThreshold
from kiosk.gallery.evalmatch import Query, _no_match, evaluate, source_entries, source_frames
from kiosk.gallery.evalqueries import (
    KINDS,
    Person,
    occluded,
    padded_box,
    queries_key,
    query_image,
    sides_of,
    size_band,
    waist_up,
)
from kiosk.gallery.reader import Found, Match
from kiosk.gallery.sources import SourceError, iter_video_frames
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, FakeIndex, arms_up, pose_at


def _person() -> Person:
    return Person(0, 1, "a.jpg", (200, 100, 600, 1100), Pose(np.asarray(STAND), np.full(17, 0.9)))


def test_waist_up_stops_above_the_hips() -> None:
    rgb = np.zeros((1200, 800, 3), np.uint8)
    img = waist_up(rgb, _person())
    hip_y = 600 - 100  # hips at y=600, box from y=100
    assert img is not None and 0.7 * hip_y < img.shape[0] < hip_y


@pytest.mark.parametrize("side", BandSide)
def test_occluded_paints_about_forty_percent_of_the_body_from_its_side(side: BandSide) -> None:
    rgb = np.zeros((1200, 800, 3), np.uint8)
    img = occluded(rgb, _person(), side)
    grey = (img == 128).all(axis=2)
    x0, y0, x1, y1 = _person().pose.bbox(0.2)
    body = grey[int(y0) - 100:int(y1) - 100, int(x0) - 200:int(x1) - 200]
    assert 0.35 <= body.mean() <= 0.5
    h, w = body.shape
    halves = {BandSide.TOP: (body[: h // 2], body[h // 2:]), BandSide.BOTTOM: (body[h // 2:], body[: h // 2]),
              BandSide.LEFT: (body[:, : w // 2], body[:, w // 2:]),
              BandSide.RIGHT: (body[:, w // 2:], body[:, : w // 2])}
    covered, open_half = halves[side]
    assert covered.mean() > 0.7 and open_half.mean() == 0


def test_every_person_is_occluded_from_every_side() -> None:
    assert sides_of("occluded") == tuple(BandSide)
    assert all(sides_of(k) == (None,) for k in KINDS if k != "occluded")


def test_every_kind_gives_an_image() -> None:
    rgb = np.zeros((1200, 800, 3), np.uint8)
    for k in KINDS:
        for side in sides_of(k):
            img = query_image(rgb, _person(), k, side)
            assert img is not None and img.ndim == 3
    with pytest.raises(ValueError, match="unknown query kind"):
        query_image(rgb, _person(), "sideways")
    with pytest.raises(ValueError, match="needs the side"):
        query_image(rgb, _person(), "occluded")


def test_cached_queries_follow_the_archive_poses() -> None:
    """Same boxes, other keypoints (another index id): the cached query poses are not reused
    (the visitor in a query image is picked by the archive's keypoints)."""
    people = [_person()]
    assert queries_key("a" * 16, people) == queries_key("a" * 16, [_person()])
    assert queries_key("a" * 16, people) != queries_key("b" * 16, people)
    assert queries_key("a" * 16, people) != queries_key("a" * 16, [])


@pytest.mark.parametrize(("box_h", "band"), [(1000, "near"), (241, "near"), (240, "far"), (100, "far")])
def test_size_band_is_how_much_the_model_enlarges_the_crop(box_h: int, band: str) -> None:
    """PoseNet 481x641 (481 high): a 240-px-high crop is enlarged 2.004x (far), 241 px 1.996x."""
    p = Person(0, None, "a.jpg", (0, 0, box_h * 3 // 4, box_h), _person().pose)
    assert size_band(p, (481, 641)) == band


@pytest.mark.parametrize(("size", "box"), [((2000, 2000), (100, 0, 700, 1300)),
                                            ((650, 1000), (100, 0, 650, 1000))])
def test_padded_box_grows_by_the_larger_side_inside_the_photo(size: tuple[int, int],
                                                              box: tuple[int, ...]) -> None:
    pose = Pose(np.array([[300.0, 100.0], [500.0, 1100.0]] + [[400.0, 600.0]] * 15), np.full(17, 0.9))
    assert padded_box(pose, 0.2, *size) == box  # 1000 px tall: 200 px each side, clipped


#: The person (entry 0, twin 1), a photo-mate in the same pose (2, twin 3), another photo's
#: person farther off (5): raw distances (an uncalibrated threshold: units = raw).
FOUND = Found("full", [Match(0, 0.01), Match(1, 0.02), Match(2, 0.05), Match(3, 0.06), Match(5, 0.3)])


@pytest.mark.parametrize(("left_out", "no_match"), [
    (frozenset({0, 1}), False),  # only the person: the photo-mate holds the pose
    (frozenset({0, 1, 2, 3}), True),  # their photo: the nearest other photo is beyond 0.15
    (frozenset({0, 1, 2, 3, 5}), True),  # nothing left in the answer
    (frozenset(), False),
])
def test_no_match_looks_past_the_entries_left_out(left_out: frozenset[int], no_match: bool) -> None:
    assert _no_match(FOUND, left_out, MatchThreshold("trimmed", 0.15, 0.0, {}), 0.15) is no_match


def test_source_entries_are_every_entry_of_a_source() -> None:
    groups = np.array([0, 0, 1, 0, 1])  # a photo of three entries, a video of two
    a, b = frozenset({0, 1, 3}), frozenset({2, 4})
    assert source_entries(groups) == [a, a, b, a, b]


class _Photos(FakeIndex):
    """A FakeIndex (raw distances) whose entries come from the given sources."""

    def __init__(self, root: Path, poses: list[np.ndarray], groups: list[int]) -> None:
        super().__init__(root, [pose_at(p) for p in poses])
        self._groups = np.asarray(groups, dtype=np.int64)

    def groups(self) -> np.ndarray:
        return self._groups


def _arm(dx: float) -> np.ndarray:
    xy = STAND.copy()
    xy[9, 0] += dx  # the left wrist a little out
    return xy


@pytest.mark.parametrize(("mates", "elsewhere", "no_match", "no_match_person"), [
    (1, arms_up(), 1, 0),  # a photo-mate holds the pose; no other photo does
    (10, _arm(20.0), 0, 0),  # ten photo-mates, then another photo holding the pose: found past them
    (10, arms_up(), 1, 0),
])
def test_no_match_leaves_the_person_s_photo_out(tmp_path: Path, mates: int, elsewhere: np.ndarray,
                                                no_match: int, no_match_person: int) -> None:
    poses = [STAND] + [_arm(1.0 + k) for k in range(mates)] + [elsewhere]  # mates nearer than 20 px
    index = _Photos(tmp_path, poses, [0] * (1 + mates) + [1])
    person = Person(0, None, "a.jpg", (0, 0, 10, 10), pose_at(STAND))
    stats = evaluate(index, [person], [Query(0, "whole", pose_at(STAND))], ["visible"],
                     max_distance=0.1)[0].kinds["whole"]
    assert (stats.top1, stats.no_match, stats.no_match_person) == (1, no_match, no_match_person)


@pytest.mark.slow
def test_eval_match_runs_end_to_end(shared_dir: Path, models_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Three demo photos, MoveNet archive, PoseNet as the other model: every figure present."""
    import shutil

    from kiosk.cli.main import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("tennis_standing.jpg", "backpackman.jpg", "frisbee.jpg"):
        shutil.copy(shared_dir / "data/posenet-demo-images" / name, photos / name)
    (photos / "broken\n.jpg").write_bytes(b"not a photo")  # named in the report, left out
    rc = main(["eval", "match", "--images", str(photos), "--model", "movenet-lightning",
               "--other-model", "posenet-353x481", "--models-dir", str(models_dir),
               "--work", str(tmp_path / "work"), "--json",
               "--recording", str(shared_dir / "data/recordings/pose_squats.mp4"),
               "--spacing", "4", "--hold", "0.5", "--seeds", "2", "--metric", "visible", "--views", "photo",
               # annotations of other photos: the person filter cannot be measured, and says so
               "--coco", str(shared_dir / "data/coco-mini/person_keypoints_val2017.json")])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    calm = doc["calm"]["visible"]
    assert calm["holds"] % 2 == 0 and calm["holds"] >= 4  # every held frame once per seed
    assert "2 jitter seeds" in doc["calm_info"]
    cached = sorted(p.name for p in (tmp_path / "work").glob("holds2-*.json"))
    assert len(cached) == 2 and sum(name.endswith("-seed1.json") for name in cached) == 1
    assert doc["archive"]["people"] >= 2 and set(doc["retrieval"]) == {"visible"}
    assert [(f["file"], "not a readable image" in f["reason"]) for f in doc["archive"]["skipped"]] \
        == [("photos/broken\n.jpg", True)]
    report = format_report(doc).splitlines()
    assert "1 file(s) left out of the archive (unreadable):" in report
    assert any(line.startswith("  skipped file     photos/broken\\n.jpg: ") for line in report)
    assert doc["person_filter"] == {} and any(line.startswith("person filter not measured: no photo the"
                                                              " --coco file annotates") for line in report)
    archive = json.loads((tmp_path / "work/archive/manifest.json").read_text())
    assert doc["archive"]["views"] == archive["model"]["views"] == "photo"
    by_size = doc["by_size"]
    assert by_size["people"]["near"] + by_size["people"]["far"] == doc["archive"]["people"]
    assert set(by_size["near"]) == set(by_size["far"]) == set(doc["retrieval"])
    sides = doc["occluded_by_side"]  # the occluded column, split by the band's side
    people = doc["archive"]["people"]  # each occluded from every side
    assert sides["queries"] == {side: people for side in BandSide.values()}
    assert doc["retrieval"]["visible"]["occluded"]["queries"] == 4 * people
    n_occluded = doc["retrieval"]["visible"]["occluded"]["top1"] * 4 * people
    assert sum(sides[side]["visible"] * n for side, n in sides["queries"].items()) == \
        pytest.approx(n_occluded, abs=0.02)
    for stats in doc["retrieval"].values():
        assert set(stats) == set(KINDS)
        assert stats["whole"]["top1"] >= 0.5  # its own photo, same model: mostly itself
        for s in stats.values():
            assert 0 <= s["top1"] <= s["top5"] <= 1 and 0 <= s["no_match"] <= 1
            # leaving the whole photo out leaves the nearest remaining pose as far or farther
            assert s["no_match_person"] <= s["no_match"]


def test_eval_match_without_a_whole_person_says_what_it_needs(
        models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No archive can be built: the message names each photo's reason and what --images needs
    (not the builder's --partial-body, which eval match does not take)."""
    from PIL import Image

    from kiosk.cli.main import main

    (tmp_path / "photos").mkdir()
    Image.new("RGB", (320, 240), (90, 120, 90)).save(tmp_path / "photos/lawn.jpg")
    rc = main(["eval", "match", "--images", str(tmp_path / "photos"), "--models-dir", str(models_dir),
               "--work", str(tmp_path / "work"), "--metric", "trimmed"])
    err = capsys.readouterr().err.splitlines()
    err = err[next(i for i, line in enumerate(err) if line.startswith("kiosk eval match: ")):]
    assert rc == 2 and not (tmp_path / "work/archive").exists()
    assert err[0].startswith("kiosk eval match: no person kept for the benchmark's archive from 1 ")
    assert "--images needs photos or videos of whole people" in err[0] and "--partial-body" not in err[0]
    assert "  rejected source  photos/lawn.jpg: no entry kept (no person 1)" in err[1:]


@pytest.mark.slow
def test_eval_match_takes_a_video_archive(shared_dir: Path, models_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A curator's archive of video: each person is a frame, shown again from that frame."""
    from kiosk.cli.main import main

    rc = main(["eval", "match", "--images", str(shared_dir / "data/recordings/pose_squats.mp4"),
               "--model", "movenet-lightning", "--other-model", "posenet-353x481", "--views", "photo",
               "--metric", "visible", "--limit", "4", "--models-dir", str(models_dir),
               "--work", str(tmp_path / "work"), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    whole = doc["retrieval"]["visible"]["whole"]
    assert doc["archive"]["people"] == 4 and whole["detected"] == 4
    assert whole["top5"] >= 0.75  # the frame itself, or a neighbour of it in the one video
    assert whole["no_match"] == 1.0  # the only source left out: nothing else holds a pose


def test_source_frames_are_the_frames_the_archive_names(shared_dir: Path) -> None:
    video = shared_dir / "data/recordings/pose_squats.mp4"
    times = [t for t, _ in iter_video_frames(video, 2.0)][:3]
    frames = source_frames(video, set(times))
    assert sorted(frames) == sorted(times)
    assert all(f.ndim == 3 and f.shape[2] == 3 for f in frames.values())
    with pytest.raises(SourceError, match="no frame at 12345 s"):
        source_frames(video, {times[0], 12345.0})
    photo = shared_dir / "data/posenet-demo-images/frisbee.jpg"
    assert set(source_frames(photo, {None})) == {None}


def test_person_free_rate_leaves_out_what_it_cannot_read(shared_dir: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from kiosk.gallery.evalmatch import person_free_rate
    from kiosk.pose.fake import FakePoseModel

    good = shared_dir / "data/posenet-demo-images/fire_hydrant.jpg"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good.read_bytes()[:500])
    model = FakePoseModel([[pose_at(STAND)]])
    assert person_free_rate([good, broken, good], model, lambda p, w, h: True) == (2, 2)
    assert "broken.jpg left out" in caplog.text
