"""Variety: near-ties go to another source and away from resting ones; nothing else changes."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.app.mirror.variety import Variety

# entries 0, 1: source 0 (a photo and its mirrored twin); 2, 3: source 1 (two video frames); 4: source 2
GROUPS = np.array([0, 0, 1, 1, 2])


def test_a_source_left_gives_way_to_a_near_tie_for_the_span() -> None:
    v = Variety(GROUPS, span_s=10.0, tie_margin=0.05)
    v.left(0, now=5.0)
    cands = [(1, 0.10), (2, 0.14)]  # the mirrored twin of the photo just left: same source
    assert v.pick(cands, shown=4, now=6.0) == (2, 0.14)
    # on screen: a video frame (entry 2); near-tie: its next frame, and the source left at 5 s
    cands = [(3, 0.10), (1, 0.12)]
    assert v.pick(cands, shown=2, now=6.0) == (3, 0.10)  # resting: the video goes on
    assert v.pick(cands, shown=2, now=15.1) == (1, 0.12)  # rested: another source is preferred


@pytest.mark.parametrize("cands", [
    [(1, 0.01), (2, 0.2)],  # the resting source is clearly the best match
    [(1, 0.01)],  # ...or the only one
    [(0, -0.9), (1, -0.85), (4, -0.5)],  # the visitor is the archive's own pose (units below 0)
])
def test_a_resting_source_that_matches_clearly_best_is_shown_again(cands) -> None:
    v = Variety(GROUPS, span_s=1000.0, tie_margin=0.05)
    v.left(0, now=0.0)
    assert v.pick(cands, shown=-1, now=1.0) == cands[0]
    assert v.pick(cands, shown=4, now=1.0) == cands[0]


def test_no_candidates_give_nothing() -> None:
    assert Variety(GROUPS, span_s=10.0, tie_margin=0.0).pick([], shown=2, now=0.0) is None


def test_near_ties_prefer_another_source() -> None:
    v = Variety(GROUPS, span_s=0.0, tie_margin=0.05)
    # shown: entry 2 (source 1); entry 3 is another frame of that video, a near-tie with entry 4
    assert v.pick([(3, 0.10), (4, 0.12), (0, 0.30)], shown=-1, now=0.0) == (3, 0.10)
    assert v.pick([(3, 0.10), (4, 0.12), (0, 0.30)], shown=1, now=0.0) == (3, 0.10)
    assert v.pick([(3, 0.10), (4, 0.12)], shown=2, now=0.0) == (4, 0.12)
    assert v.pick([(3, 0.10), (4, 0.16)], shown=2, now=0.0) == (3, 0.10)  # not a tie: the video goes on


def test_the_shown_photo_wins_a_near_tie() -> None:
    v = Variety(GROUPS, span_s=60.0, tie_margin=0.05)
    assert v.pick([(4, 0.10), (2, 0.13)], shown=2, now=0.0) == (2, 0.13)
    assert v.pick([(4, 0.10), (2, 0.16)], shown=2, now=0.0) == (4, 0.10)



@pytest.mark.parametrize(("cands", "shown", "proposed", "expected"), [
    ([(4, 0.10), (0, 0.13)], -1, 0, (0, 0.13)),  # the challenger of the last pose stays
    ([(4, 0.10), (0, 0.13)], 2, 0, (0, 0.13)),  # ...while a photo is on screen too
    ([(4, 0.10), (0, 0.16)], 2, 0, (4, 0.10)),  # not a near-tie any more: the best
    ([(4, 0.10), (2, 0.12), (0, 0.13)], 2, 0, (2, 0.12)),  # the shown photo still comes first
])
def test_the_photo_proposed_on_the_last_pose_wins_a_near_tie(cands, shown, proposed, expected) -> None:
    v = Variety(GROUPS, span_s=60.0, tie_margin=0.05)
    assert v.pick(cands, shown=shown, now=0.0, proposed=proposed) == expected

def test_the_least_recently_shown_source_is_preferred() -> None:
    v = Variety(GROUPS, span_s=1.0, tie_margin=0.1)
    v.left(0, now=0.0)
    v.left(4, now=5.0)
    assert v.pick([(4, 0.10), (1, 0.11)], shown=2, now=10.0) == (1, 0.11)
