"""Scale views (kiosk.pose.scales): the margins' geometry, the votes, the cycle, the setting."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.pose.fake import FakePoseModel
from kiosk.pose.scales import (
    CLOSE,
    MARGINS,
    ScaleCycle,
    ScaleVotes,
    padded,
    uses_scale_views,
    vote,
    voted_estimate,
)
from kiosk.pose.types import Pose

#: where a marker model puts the 17 keypoints inside the bright box: (x, y) shares of its size
_LAYOUT = np.random.default_rng(0).uniform(0.0, 1.0, (17, 2))


def _frame(h: int = 120, w: int = 160, box: tuple[int, int, int, int] = (40, 30, 100, 110)) -> np.ndarray:
    """A black frame with a white "person" box (x0, y0, x1, y1)."""
    rgb = np.zeros((h, w, 3), np.uint8)
    x0, y0, x1, y1 = box
    rgb[y0:y1, x0:x1] = 255
    return rgb


def _marker(rgb: np.ndarray) -> list[Pose]:
    """A model that sees the white box (pixel edges) and lays the keypoints out in it."""
    ys, xs = np.nonzero(rgb[..., 0] > 127)
    if not len(xs):
        return []
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    xy = np.array([x0, y0]) + _LAYOUT * np.array([x1 - x0, y1 - y0])
    return [Pose(xy.astype(np.float32), np.full(17, 0.9, np.float32), 0.9)]


def _pose(x: float, scores: float = 0.9) -> Pose:
    return Pose(np.full((17, 2), x, np.float32), np.full(17, scores, np.float32))


@pytest.mark.parametrize("margin", [0.0, 0.125, 0.25, 0.5])
@pytest.mark.parametrize("shape", [(120, 160), (480, 640), (101, 77)])
def test_the_margin_puts_the_frame_in_the_middle_of_a_black_canvas(margin: float,
                                                                   shape: tuple[int, int]) -> None:
    rgb = np.random.default_rng(1).integers(1, 256, (*shape, 3), dtype=np.uint8)
    canvas, (dx, dy) = padded(rgb, margin)
    h, w = shape
    assert (dx, dy) == (round(margin * w), round(margin * h))
    assert canvas.shape == (h + 2 * dy, w + 2 * dx, 3)
    np.testing.assert_array_equal(canvas[dy:dy + h, dx:dx + w], rgb)
    assert int(canvas.sum()) == int(rgb.sum())  # black elsewhere


@pytest.mark.parametrize("margin", [-0.1, 1.5, float("nan")])
def test_a_margin_out_of_range_is_refused(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        padded(_frame(), margin)


@pytest.mark.parametrize("margin", MARGINS)
def test_poses_come_back_in_the_frames_pixels(margin: float) -> None:
    rgb = _frame()
    model = FakePoseModel(_marker)
    (pose,) = model.estimate(rgb, margin)
    (want,) = _marker(rgb)
    np.testing.assert_allclose(pose.xy, want.xy, atol=1e-4)
    assert model.frames[-1][:2] == padded(rgb, margin)[0].shape[:2]


def test_the_vote_is_the_median_of_every_keypoint() -> None:
    a, b = _pose(10.0), _pose(12.0, 0.5)
    wrong = Pose(np.where(np.arange(17)[:, None] == 9, 300.0, np.full((17, 2), 11.0)).astype(np.float32),
                 np.full(17, 0.1, np.float32))
    voted = vote([a, wrong, b])
    assert voted.xy[9, 0] == 12.0  # the misplaced wrist is outvoted
    np.testing.assert_allclose(voted.xy[0], [11.0, 11.0])
    np.testing.assert_allclose(voted.scores, 0.5)
    assert vote([a]) is a
    with pytest.raises(ValueError, match="at least one"):
        vote([])


def test_of_two_poses_each_keypoint_comes_from_the_one_that_scores_it_higher() -> None:
    sure, unsure = _pose(10.0, 0.9), _pose(50.0, 0.1)
    for pair in ([sure, unsure], [unsure, sure]):
        voted = vote(pair)
        np.testing.assert_allclose(voted.xy, 10.0)  # not half-way to the unsure view (30)
        np.testing.assert_allclose(voted.scores, 0.9)


def test_a_still_image_is_voted_over_every_margin() -> None:
    model = FakePoseModel(_marker)
    pose = voted_estimate(model, _frame(), lambda poses: poses[0] if poses else None)
    assert pose is not None and model.calls == len(MARGINS)
    np.testing.assert_allclose(pose.xy, _marker(_frame())[0].xy, atol=1e-4)
    nobody = FakePoseModel([[]])
    assert voted_estimate(nobody, _frame(), lambda poses: poses[0] if poses else None) is None
    assert nobody.calls == 1


def test_a_far_person_is_seen_once_and_the_cycle_waits_for_someone_close() -> None:
    far = _frame(box=(70, 50, 80, 50 + int(CLOSE * 120) - 4))  # under CLOSE of the height
    model = FakePoseModel(_marker)
    assert voted_estimate(model, far, lambda poses: poses[0] if poses else None) is not None
    assert model.calls == 1
    cycle = ScaleCycle()
    for _ in range(4):
        cycle.estimate(model, far)
    assert set(model.frames) == {far.shape}  # nobody close: no margin
    cycle.estimate(model, _frame())  # someone close: the next frames cycle
    cycle.estimate(model, _frame())
    assert model.frames[-1] == padded(_frame(), MARGINS[1])[0].shape


def test_the_cycle_takes_the_margins_in_turn() -> None:
    model = FakePoseModel(_marker)
    cycle = ScaleCycle()
    rgb = _frame()
    for _ in range(2 * len(MARGINS)):
        cycle.estimate(model, rgb)
    want = [padded(rgb, m)[0].shape for m in MARGINS] * 2
    assert model.frames == want
    with pytest.raises(ValueError, match="at least one margin"):
        ScaleCycle(())


def test_votes_keep_the_last_window_and_restart_with_a_new_visitor() -> None:
    votes = ScaleVotes(window=3)
    assert votes(_pose(0.0), track_id=1).xy[0, 0] == 0.0
    votes(_pose(10.0), track_id=1)
    assert votes(_pose(20.0), track_id=1).xy[0, 0] == 10.0  # median of 0, 10, 20
    assert votes(_pose(30.0), track_id=1).xy[0, 0] == 20.0  # 0 has left the window
    assert votes(_pose(99.0), track_id=2).xy[0, 0] == 99.0  # a new visitor: no old votes
    votes.reset()
    assert votes(_pose(5.0), track_id=2).xy[0, 0] == 5.0
    with pytest.raises(ValueError, match="window"):
        ScaleVotes(window=0)


@pytest.mark.parametrize(
    ("setting", "family", "on"),
    [("auto", "posenet", True), ("auto", "movenet", False), ("always", "movenet", True),
     ("always", "posenet", True), ("never", "posenet", False), ("never", "movenet", False),
     ("auto", "scripted", False)],
)
def test_the_setting_by_model_family(setting: str, family: str, on: bool) -> None:
    assert uses_scale_views(setting, family) is on


@pytest.mark.parametrize("setting", ["on", "", "AUTO"])
def test_unknown_settings_are_refused(setting: str) -> None:
    with pytest.raises(ValueError, match=r"pose\.scale_views must be one of auto, always, never"):
        uses_scale_views(setting, "posenet")


class SidedMarker:
    """The marker model, recording on every call whether the white box was on the frame's left
    half (as drawn by _frame) or mirrored to its right."""

    def __init__(self) -> None:
        self.mirrored: list[bool] = []

    def __call__(self, rgb: np.ndarray) -> list[Pose]:
        xs = np.nonzero(rgb[..., 0].max(axis=0) > 127)[0]
        self.mirrored.append(bool(len(xs)) and xs.mean() > rgb.shape[1] / 2)
        return _marker(rgb)


_LEFT_BOX = (10, 10, 70, 110)  # a close person left of the middle of the 160-wide frame


@pytest.mark.parametrize(("box", "want"), [
    (_LEFT_BOX, [False, True, False, True, False, True]),  # close: margins in turn, mirrored every other
    ((10, 50, 20, 70), [False, True, False, True, False, True]),  # far: no margin, still mirrored in turn
])
def test_cycled_flips_mirror_every_other_frame(box: tuple[int, int, int, int], want: list[bool]) -> None:
    marker = SidedMarker()
    model = FakePoseModel(marker)
    cycle = ScaleCycle(flips=True)
    rgb = _frame(box=box)
    poses = [cycle.estimate(model, rgb)[0] for _ in want]
    assert marker.mirrored == want
    for pose in poses:  # every frame's pose over the box in the frame's pixels, mirrored ones flipped back
        assert box[0] - 1 <= pose.xy[:, 0].min() and pose.xy[:, 0].max() <= box[2] + 1


def test_a_still_image_with_cycled_flips_is_voted_over_seen_mirrored_seen() -> None:
    marker = SidedMarker()
    model = FakePoseModel(marker)
    rgb = _frame(box=_LEFT_BOX)
    pose = voted_estimate(model, rgb, lambda poses: poses[0] if poses else None, flips=True)
    assert pose is not None and marker.mirrored == [False, True, False]
    assert model.frames == [padded(rgb, m)[0].shape for m in MARGINS]
