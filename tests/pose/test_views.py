"""Consensus poses (kiosk.pose.views): the crop geometry, the same-person rule, the median
vote, and a ViewsModel driven by scripted models that see the frame they are given."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.core.enums import Views
from kiosk.pose import views as v
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, pose_at

FRAME = (1200, 800)  # (H, W)
RWRIST = 10


def _photo() -> np.ndarray:
    """A black frame with a white figure exactly over STAND's box (STAND is left/right
    symmetric, so the figure's pose is the same seen mirrored)."""
    rgb = np.zeros((*FRAME, 3), np.uint8)
    x0, y0 = STAND.min(axis=0).astype(int)
    x1, y1 = STAND.max(axis=0).astype(int)
    rgb[y0:y1 + 1, x0:x1 + 1] = 255
    return rgb


def _seeing(rgb: np.ndarray, wrist_dx: float = 0.0) -> list[Pose]:
    """STAND fitted to the white pixels of rgb; the right wrist moved by wrist_dx."""
    ys, xs = np.nonzero(rgb[:, :, 0])
    if not len(xs):
        return []
    lo, hi = STAND.min(axis=0), STAND.max(axis=0)
    span = np.array([xs.max() - xs.min(), ys.max() - ys.min()])
    xy = (STAND - lo) / (hi - lo) * span + np.array([xs.min(), ys.min()])
    xy[RWRIST, 0] += wrist_dx
    return [Pose(xy.astype(np.float32), np.full(17, 0.9, np.float32))]


MARK = 128  # grey marker beside the figure: the side of its raised hand


def _photo_raising() -> np.ndarray:
    """_photo() with a grey mark left of the figure: the person raises the hand on that side
    (their right hand, on the image's left, as a person facing the camera)."""
    rgb = _photo()
    x0, y0 = STAND.min(axis=0).astype(int)
    rgb[y0:y0 + 20, x0 - 30:x0 - 10] = MARK
    return rgb


def _seeing_raised(rgb: np.ndarray) -> list[Pose]:
    """Like _seeing (white pixels only), plus the hand on the mark's side raised 300 px: a model
    that reads the picture, so in a mirrored crop it raises the other label's hand."""
    white = np.where(rgb == MARK, 0, rgb)
    poses = _seeing(white)
    _, xs = np.nonzero(rgb[:, :, 0] == MARK)
    if not poses or not len(xs):
        return poses
    xy = poses[0].xy.copy()
    wrist = 10 if xs.mean() < xy[:, 0].mean() else 9  # the right wrist is on the image's left
    xy[wrist, 1] -= 300
    return [Pose(xy, poses[0].scores)]


def _model(wrong_on_photo: float = 0.0) -> FakePoseModel:
    """Sees the figure; on the whole photo (only) it puts the right wrist wrong_on_photo px off."""
    return FakePoseModel(lambda rgb: _seeing(rgb, wrong_on_photo if rgb.shape[:2] == FRAME else 0.0))


def test_crop_pads_outside_the_frame_black() -> None:
    rgb = np.full((50, 60, 3), 200, np.uint8)
    out = v.crop(rgb, (-10, -5, 20, 25))
    assert out.shape == (30, 30, 3) and out[:5].max() == 0 and out[:, :10].max() == 0
    assert out[10:, 15:].min() == 200


@pytest.mark.parametrize(("box", "pad", "square"), [
    ((100, 100, 200, 300), 0.0, (50, 100, 250, 300)),
    ((100, 100, 200, 300), 0.25, (0, 50, 300, 350)),
    ((0, 0, 400, 100), 0.5, (-200, -350, 600, 450)),
])
def test_square_box_is_centred_and_grown_by_the_larger_side(box, pad, square) -> None:
    x0, y0, x1, y1 = box
    xy = np.linspace([x0, y0], [x1, y1], 17).astype(np.float32)
    assert v.square_box(Pose(xy, np.full(17, 0.9, np.float32)), pad) == square


@pytest.mark.parametrize(("dx", "same"), [(0, True), (60, True), (300, False)])
def test_same_person_is_the_nearest_pose_within_a_share_of_its_size(dx: float, same: bool) -> None:
    ref = pose_at(STAND)  # 180 x 815 px: SAME_PERSON x 815 = 204 px
    found = v.same_person([pose_at(STAND, dx=dx + 500), pose_at(STAND, dx=dx)], ref)
    assert (found is not None) == same
    if same:
        assert found is not None and float(found.xy[0, 0]) == pytest.approx(360 + dx)


def test_nearest_pose_needs_three_keypoints_seen_by_both() -> None:
    scores = np.zeros(17, np.float32)
    scores[:2] = 0.9
    assert v.nearest_pose([Pose(STAND, scores)], pose_at(STAND)) == (None, float("inf"))


def test_consensus_is_the_median_of_each_keypoint_with_the_first_views_scores() -> None:
    views = [pose_at(STAND, dx=d, score=0.9 - d / 1000) for d in (0, 2, 4, 400)]
    c = v.consensus(views, 800, 1200)
    assert np.allclose(c.xy, STAND + np.array([3, 0]))
    assert np.array_equal(c.scores, views[0].scores) and c.score == views[0].score


def test_consensus_stays_inside_the_photo() -> None:
    views = [pose_at(STAND, dx=500)] * 3  # x 770-950 in an 800 px wide photo
    assert float(v.consensus(views, 800, 1200).xy[:, 0].max()) == 800.0


def test_views_model_agrees_with_a_model_that_sees_every_framing_alike() -> None:
    fake = _model()
    seen = v.ViewsModel(fake).estimate(_photo())
    assert len(seen) == 1 and np.abs(seen[0].xy - STAND).max() <= 1.0
    assert fake.calls == 1 + 2 * len(v.PADS)  # the photo, then every padding plain and mirrored
    assert [f[:2] for f in fake.frames].count(FRAME) == 1  # the other six are crops


def test_every_view_mirrored_back_is_the_photos_pose() -> None:
    """A mirrored crop shows the raised right hand as a raised left hand on the other side:
    each view, flipped back with its left/right labels swapped, is the photo's pose."""
    rgb = _photo_raising()
    fake = FakePoseModel(_seeing_raised)
    photo = fake.estimate(rgb)[0]
    assert photo.xy[10, 1] < photo.xy[9, 1] - 250  # the right wrist (image left) is raised
    found = v.crop_views(fake, rgb, photo)
    assert len(found) == 2 * len(v.PADS)
    for view in found:
        assert np.abs(view.xy - photo.xy).max() <= 1.0


def test_a_mistake_made_in_one_view_is_voted_out() -> None:
    one = _model(wrong_on_photo=150.0).estimate(_photo())[0]
    assert one.xy[RWRIST, 0] == pytest.approx(STAND[RWRIST, 0] + 150, abs=1)
    seen = v.ViewsModel(_model(wrong_on_photo=150.0)).estimate(_photo())[0]
    assert seen.xy[RWRIST, 0] == pytest.approx(STAND[RWRIST, 0], abs=1)


@pytest.mark.parametrize(("score", "height"), [(0.1, 815), (0.9, 40)])
def test_unlikely_or_tiny_people_keep_the_photos_pose(score: float, height: float) -> None:
    pose = pose_at(STAND, scale=height / 815, score=score)
    fake = FakePoseModel([[pose]])
    out = v.ViewsModel(fake).estimate(_photo())
    assert out == [pose] and fake.calls == 1


def test_the_timings_are_those_of_every_run() -> None:
    fake = _model()
    fake.last_timings = {"invoke": 2.0}
    assert v.ViewsModel(fake).estimate(_photo()) and fake.calls == 7
    seen = v.ViewsModel(fake)
    seen.estimate(_photo())
    assert seen.last_timings == {"invoke": 14.0}


def test_with_views_photo_is_the_model_itself() -> None:
    fake = _model()
    assert v.with_views(fake, Views.PHOTO) is fake
    assert isinstance(v.with_views(fake, Views.CROPS), v.ViewsModel)
