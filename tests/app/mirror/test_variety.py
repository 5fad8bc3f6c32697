"""Variety: resting sources, near-ties to another source, the shown photo kept when as good."""

from __future__ import annotations

import numpy as np

from kiosk.app.mirror.variety import Variety

# entries 0, 1: source 0 (a photo and its mirrored twin); 2, 3: source 1 (two video frames); 4: source 2
GROUPS = np.array([0, 0, 1, 1, 2])


def test_a_source_left_rests_for_the_span_then_returns() -> None:
    v = Variety(GROUPS, span_s=10.0, tie_margin=0.0)
    v.left(0, now=5.0)
    cands = [(1, 0.01), (2, 0.2)]  # the mirrored twin of the photo just left: same source
    assert v.pick(cands, shown=4, now=6.0) == (2, 0.2)
    assert v.pick(cands, shown=4, now=15.1) == (1, 0.01)


def test_all_resting_gives_nothing() -> None:
    v = Variety(GROUPS, span_s=10.0, tie_margin=0.0)
    v.left(2, now=0.0)
    assert v.pick([(3, 0.1)], shown=-1, now=1.0) is None


def test_near_ties_prefer_another_source() -> None:
    v = Variety(GROUPS, span_s=0.0, tie_margin=0.05)
    # shown: entry 2 (source 1); entry 3 is another frame of that video, a near-tie with entry 4
    assert v.pick([(3, 0.10), (4, 0.12), (0, 0.30)], shown=-1, now=0.0) == (3, 0.10)
    assert v.pick([(3, 0.10), (4, 0.12), (0, 0.30)], shown=1, now=0.0) == (3, 0.10)
    v2 = Variety(GROUPS, span_s=0.0, tie_margin=0.05)
    assert v2.pick([(3, 0.10), (4, 0.12)], shown=2, now=0.0) == (4, 0.12)


def test_the_shown_photo_wins_a_near_tie() -> None:
    v = Variety(GROUPS, span_s=60.0, tie_margin=0.05)
    assert v.pick([(4, 0.10), (2, 0.13)], shown=2, now=0.0) == (2, 0.13)


def test_the_least_recently_shown_source_is_preferred() -> None:
    v = Variety(GROUPS, span_s=1.0, tie_margin=0.1)
    v.left(0, now=0.0)
    v.left(4, now=5.0)
    assert v.pick([(4, 0.10), (1, 0.11)], shown=2, now=10.0) == (1, 0.11)
