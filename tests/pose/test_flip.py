"""Flip views (kiosk.pose.flip): when they are on, the score-weighted average, the pairing of
each person with their mirrored pose, and a FlipModel driven by scripted models that see the
frame they are given."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.core.enums import FlipViews
from kiosk.pose import flip as f
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, pose_at
from tests.pose.test_views import FRAME, RWRIST, _photo, _photo_raising, _seeing, _seeing_raised


@pytest.mark.parametrize(("setting", "delegate", "on"), [
    ("auto", "edgetpu", True),
    ("auto", "cpu", False),
    ("always", "cpu", True),
    ("always", "edgetpu", True),
    ("never", "edgetpu", False),
    (FlipViews.NEVER, "cpu", False),
])
def test_flip_views_are_on_by_setting_and_delegate(setting: str, delegate: str, on: bool) -> None:
    assert f.uses_flip_views(setting, delegate) is on


@pytest.mark.parametrize(("setting", "delegate", "mode"), [
    ("auto", "edgetpu", FlipViews.ALWAYS),
    ("auto", "cpu", FlipViews.CYCLE),
    ("cycle", "edgetpu", FlipViews.CYCLE),
    ("always", "cpu", FlipViews.ALWAYS),
    ("never", "cpu", FlipViews.NEVER),
])
def test_what_each_setting_means_on_each_delegate(setting: str, delegate: str, mode: FlipViews) -> None:
    assert f.flip_mode(setting, delegate) is mode
    assert f.cycles_flips(setting, delegate) is (mode is FlipViews.CYCLE)


def test_an_unknown_setting_names_the_key_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"pose\.flip_views must be one of auto, always, cycle, never"):
        f.uses_flip_views("sometimes", "cpu")


def test_a_mirrored_estimate_comes_back_in_the_frames_pixels() -> None:
    model = FakePoseModel([[pose_at(STAND)]])
    (pose,) = f.mirrored_estimate(model, np.zeros((*FRAME, 3), np.uint8))
    np.testing.assert_allclose(pose.xy, pose_at(STAND).flipped(FRAME[1]).xy, atol=1e-5)


@pytest.mark.parametrize(("delegate", "setting", "wrapped"), [
    ("cpu", "auto", False), ("edgetpu", "auto", True), ("cpu", "always", True), ("cpu", "cycle", False)])
def test_with_flip_wraps_only_when_on(delegate: str, setting: str, wrapped: bool) -> None:
    fake = FakePoseModel([[pose_at(STAND)]], delegate=delegate)
    model = f.with_flip(fake, setting)
    assert isinstance(model, f.FlipModel) is wrapped
    assert (model.name, model.family, model.delegate, model.input_size) == (
        fake.name, fake.family, fake.delegate, fake.input_size)


def _scored(xy: np.ndarray, scores: list[float] | float, score: float = 0.8) -> Pose:
    return Pose(xy.astype(np.float32), np.broadcast_to(np.float32(scores), 17).copy(), score)


@pytest.mark.parametrize(("sa", "sb", "x"), [
    (0.5, 0.5, 5.0),    # equal scores: the midpoint
    (0.9, 0.3, 2.5),    # the more confident measurement weighs more
    (0.0, 0.6, 10.0),   # one run does not see it at all: the other's place
    (0.0, 0.0, 5.0),    # neither sees it: the midpoint, never NaN
])
def test_averaged_weights_each_keypoint_by_its_scores(sa: float, sb: float, x: float) -> None:
    a = _scored(np.zeros((17, 2)), sa, 0.6)
    b = _scored(np.tile([10.0, 0.0], (17, 1)), sb, 0.8)
    out = f.averaged(a, b)
    assert np.allclose(out.xy[:, 0], x) and np.allclose(out.xy[:, 1], 0.0)
    assert np.allclose(out.scores, (sa + sb) / 2) and out.score == pytest.approx(0.7)


def test_paired_averages_each_person_with_their_own_mirrored_pose() -> None:
    near, far = pose_at(STAND, score=0.9), pose_at(STAND, dx=600, score=0.5)
    mirrored = [pose_at(STAND, dx=604, score=0.5), pose_at(STAND, dx=10, score=0.9)]
    out = f.paired([far, near], mirrored)
    assert [round(p.score, 2) for p in out] == [0.9, 0.5]  # by score
    assert np.allclose(out[0].xy, STAND + np.array([5, 0]))
    assert np.allclose(out[1].xy, STAND + np.array([602, 0]))


def test_a_person_the_mirrored_run_missed_is_kept_as_seen() -> None:
    alone = pose_at(STAND)
    assert f.paired([alone], [pose_at(STAND, dx=900)]) == [alone]
    assert f.paired([alone], []) == [alone]


def test_a_mirrored_pose_pairs_with_one_person_only() -> None:
    a, b = pose_at(STAND, score=0.9), pose_at(STAND, dx=20, score=0.8)  # two people close together
    out = f.paired([a, b], [pose_at(STAND, dx=10)])
    assert sum(not np.allclose(p.xy, q.xy) for p, q in zip(out, (a, b), strict=True)) == 1


def test_flip_model_runs_the_frame_and_its_mirror_and_flips_back() -> None:
    """A model that reads the picture (a raised hand on the mark's side): the mirrored run sees
    the other label's hand raised on the other side; flipped back it is the same pose."""
    rgb = _photo_raising()
    fake = FakePoseModel(_seeing_raised)
    seen = fake.estimate(rgb)[0]
    out = f.FlipModel(fake).estimate(rgb)
    assert fake.calls == 3 and fake.frames[1:] == [(*FRAME, 3)] * 2
    assert len(out) == 1 and np.abs(out[0].xy - seen.xy).max() <= 1.0


def test_a_mistake_of_one_run_is_halved() -> None:
    """The model puts the right wrist 100 px off only when the mark is on the image's left
    (as seen, not mirrored): the average is 50 px off."""
    def model(rgb: np.ndarray) -> list[Pose]:
        unmarked = rgb[:, :, 0] != 128
        marked_left = (~unmarked).any() and np.nonzero(~unmarked)[1].mean() < rgb.shape[1] / 2
        return _seeing(np.where(unmarked[..., None], rgb, 0), 100.0 if marked_left else 0.0)

    rgb = _photo()
    rgb[0:20, 0:20] = 128
    out = f.FlipModel(FakePoseModel(model)).estimate(rgb)
    assert out[0].xy[RWRIST, 0] == pytest.approx(STAND[RWRIST, 0] + 50, abs=1)


def test_timings_of_both_runs_are_summed() -> None:
    fake = FakePoseModel([[pose_at(STAND)]])
    fake.last_timings = {"preprocess": 1.0, "invoke": 2.0, "decode": 0.5}
    model = f.FlipModel(fake)
    model.estimate(np.zeros((*FRAME, 3), np.uint8))
    assert model.last_timings == {"preprocess": 2.0, "invoke": 4.0, "decode": 1.0}
