"""When the shown photo changes."""

from __future__ import annotations

import pytest

from kiosk.app.mirror.hysteresis import NEAR_TIE_PERSIST, NO_MATCH, NOBODY, Hysteresis
from kiosk.app.mirror.target import Target, TargetKind

P = Target.photo


def test_a_pose_on_the_edge_of_max_distance_does_not_flash_photos() -> None:
    h = Hysteresis(0.2, 3, hold_s=0.3)
    h.update(NO_MATCH, None, now=0.0)
    h.update(NO_MATCH, None, now=0.1)
    h.update(NO_MATCH, None, now=0.2)
    h.update(NO_MATCH, None, now=0.3)
    assert h.target == NO_MATCH
    seq = [P(1), NO_MATCH, P(2), NO_MATCH, NO_MATCH, P(1), NO_MATCH]  # matches now and then
    assert all(h.update(c, 0.19 if c.is_photo else None, now=0.4 + k / 10).target == NO_MATCH
               for k, c in enumerate(seq))


def test_first_match_is_shown_at_once() -> None:
    h = Hysteresis(0.03, 3)
    d = h.update(P(5), 0.2, lambda e: 9.9)
    assert d.target == P(5) and d.changed


def test_a_clearly_better_match_switches_on_its_second_frame() -> None:
    h = Hysteresis(0.03, 3)
    h.update(P(5), 0.20)
    assert h.update(P(7), 0.10, lambda e: 0.20).target == P(5)  # 0.10 + 0.03 <= 0.20: a first sign
    d = h.update(P(8), 0.11, lambda e: 0.21)  # still clearly better (whichever photo): a move
    assert d.target == P(8) and d.changed and d.shown_distance == 0.21


def test_one_odd_frame_does_not_switch() -> None:
    # a keypoint misplaced for one frame makes the shown photo look far: the screen stays
    h = Hysteresis(0.2, 3, hold_s=0.3)
    h.update(P(5), 0.10, now=0.0)
    shown = iter([0.12, 0.50, 0.11, 0.13, 0.12])
    ds = [h.update(P(7), 0.18 if k == 1 else 0.15, lambda e: next(shown), now=0.1 * (k + 1))
          for k in range(5)]
    assert all(d.target == P(5) for d in ds)


@pytest.mark.parametrize("rate, another, frames_to_switch", [
    (5.0, False, 3), (10.0, False, 4), (30.0, False, 10),  # 3 frames and 0.3 s
    (5.0, True, 6), (10.0, True, 7), (30.0, True, 19),  # NEAR_TIE_PERSIST (2) x both
])
def test_persistence_is_counted_in_pose_time(rate: float, another: bool, frames_to_switch: int) -> None:
    # a slightly better photo (within the margin) must persist 3 frames and 0.3 s of pose time,
    # twice that when it is a jump (not the shown video's next frame)
    assert NEAR_TIE_PERSIST == 2
    h = Hysteresis(0.2, 3, hold_s=0.3)
    h.update(P(5), 0.20, now=0.0)
    ds = [h.update(P(7), 0.15, lambda e: 0.20, now=(k + 1) / rate, jump=another)
          for k in range(frames_to_switch)]
    assert [d.changed for d in ds] == [False] * (frames_to_switch - 1) + [True]


@pytest.mark.parametrize("shown, another, frames", [(NO_MATCH, True, 2), (P(5), False, 3), (P(5), True, 6)])
def test_a_near_tie_jump_persists_twice_as_long(shown: Target, another: bool, frames: int) -> None:
    """From "no good match" a photo on its second pose in a row; from a photo, a photo no better
    by the margin after 3 poses (the shown video's next frame: the flipbook), after 2 x 3 poses
    when it is a jump (another photo, a mirrored twin, another video)."""
    h = Hysteresis(0.2, 3)
    h.update(P(5), 0.1)
    if shown == NO_MATCH:
        for _ in range(3):
            h.update(NO_MATCH, None)
    assert h.target == shown
    ds = [h.update(P(7), 0.1, {5: 0.12}.get, jump=another) for _ in range(frames)]
    assert [d.changed for d in ds] == [False] * (frames - 1) + [True]


def test_a_slightly_better_match_must_persist() -> None:
    h = Hysteresis(0.03, 3)
    h.update(P(5), 0.20)
    shown = {5: 0.21}
    assert h.update(P(7), 0.19, shown.get).target == P(5)
    assert h.update(P(7), 0.19, shown.get).target == P(5)
    d = h.update(P(7), 0.19, shown.get)
    assert d.target == P(7) and d.changed


def test_an_interrupted_candidate_starts_counting_again() -> None:
    h = Hysteresis(0.03, 3)
    h.update(P(5), 0.20)
    shown = {5: 0.21}
    h.update(P(7), 0.19, shown.get)
    h.update(P(7), 0.19, shown.get)
    h.update(P(8), 0.19, shown.get)
    assert h.update(P(7), 0.19, shown.get).target == P(5)
    assert h.update(P(7), 0.19, shown.get).target == P(5)
    assert h.update(P(7), 0.19, shown.get).target == P(7)


def test_no_good_match_must_persist_in_pose_time() -> None:
    h = Hysteresis(0.2, 2, hold_s=0.5)
    h.update(P(5), 0.1, now=0.0)
    assert [h.update(NO_MATCH, None, now=t / 10).target for t in range(1, 7)] == [P(5)] * 5 + [NO_MATCH]
    assert h.update(P(5), 0.1, now=0.9).target == NO_MATCH  # a good match again: one pose says little
    assert h.update(P(5), 0.1, now=1.0).target == P(5)  # ...the second in a row shows it
    assert h.update(NO_MATCH, None, now=1.1).target == P(5)
    assert h.update(P(5), 0.1, now=1.2).target == P(5)  # ...and the miss starts counting again
    assert h.update(NO_MATCH, None, now=1.3).target == P(5)
    assert h.update(NO_MATCH, None, now=1.7).target == P(5)


def test_a_miss_counts_through_passing_photos_and_dropped_frames() -> None:
    far = {5: 0.9}.get  # the shown photo, far from the visitor's new pose
    h = Hysteresis(0.2, 3, hold_s=0.3)
    h.update(P(5), 0.1, now=0.0)
    assert h.update(NO_MATCH, None, far, now=0.1).target == P(5)
    # a photo clearly better right after a miss: the second rejection of the shown photo in a row
    assert h.update(P(7), 0.1, far, now=0.2).target == P(7)
    h = Hysteresis(0.2, 3, hold_s=0.3)
    h.update(P(5), 0.1, now=0.0)
    # a frame without the visitor (NOBODY) says nothing about the photo: the miss goes on
    seq = [NO_MATCH, NOBODY, NO_MATCH, NO_MATCH]
    got = [h.update(c, None, far, now=0.1 * (k + 1)).target for k, c in enumerate(seq)]
    assert got == [P(5), P(5), P(5), NO_MATCH]
    h = Hysteresis(0.2, 3)
    h.update(P(5), 0.1, now=0.0)
    # a pose with a clearly better photo is no miss: two misses after it are not yet three
    seq = [(P(7), 0.1), (NO_MATCH, None), (NO_MATCH, None)]
    assert [h.update(c, d, far).target for c, d in seq] == [P(5)] * 3
    assert h.update(NO_MATCH, None, far).target == NO_MATCH


def test_no_match_and_nobody_are_debounced() -> None:
    h = Hysteresis(0.03, 2)
    h.update(P(5), 0.2)
    assert h.update(NO_MATCH, None).target == P(5)  # one bad frame keeps the photo
    assert h.update(NO_MATCH, None).target == NO_MATCH
    assert h.update(P(3), 0.1).target == NO_MATCH  # a good match again: one pose says little
    assert h.update(P(4), 0.1).target == P(4)  # a match on the second pose in a row: shown
    assert h.update(NOBODY, None).target == P(4)
    d = h.update(NOBODY, None)
    assert d.target == NOBODY and d.changed


def test_one_frame_means_always_follow_a_flipbook() -> None:
    h = Hysteresis(0.5, 1)
    h.update(P(1), 0.3)
    assert h.update(P(2), 0.29, lambda e: 0.3).target == P(2)
    # a near-tie jump: on its NEAR_TIE_PERSIST-th pose; clearly better: at once
    assert h.update(P(3), 0.28, lambda e: 0.29, jump=True).target == P(2)
    assert h.update(P(3), 0.28, lambda e: 0.29, jump=True).target == P(3)
    assert h.update(P(4), 0.1, lambda e: 0.7, jump=True).target == P(4)


@pytest.mark.parametrize("kind, entry", [(TargetKind.PHOTO, None), (TargetKind.PHOTO, -1),
                                         (TargetKind.NO_MATCH, 3), (TargetKind.NOBODY, 0)])
def test_a_target_is_a_photo_with_an_id_or_a_state_without(kind: TargetKind, entry: int | None) -> None:
    with pytest.raises(ValueError):
        Target(kind, entry)


def test_targets_name_themselves() -> None:
    assert [str(t) for t in (P(4), NO_MATCH, NOBODY)] == ["entry4", "no_match", "nobody"]
    assert P(4) == P(4) and P(4) != NO_MATCH and NO_MATCH.entry is None
