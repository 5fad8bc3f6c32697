"""When the shown photo changes."""

from __future__ import annotations

from kiosk.app.mirror.hysteresis import NO_MATCH, NOBODY, Hysteresis


def test_first_match_is_shown_at_once() -> None:
    h = Hysteresis(0.03, 3)
    d = h.update(5, 0.2, lambda e: 9.9)
    assert d.target == 5 and d.changed


def test_a_clearly_better_match_switches_at_once() -> None:
    h = Hysteresis(0.03, 3)
    h.update(5, 0.20)
    d = h.update(7, 0.10, lambda e: 0.20)  # 0.10 + 0.03 <= 0.20
    assert d.target == 7 and d.changed and d.shown_distance == 0.20


def test_a_slightly_better_match_must_persist() -> None:
    h = Hysteresis(0.03, 3)
    h.update(5, 0.20)
    shown = {5: 0.21}
    assert h.update(7, 0.19, shown.get).target == 5
    assert h.update(7, 0.19, shown.get).target == 5
    d = h.update(7, 0.19, shown.get)
    assert d.target == 7 and d.changed


def test_an_interrupted_candidate_starts_counting_again() -> None:
    h = Hysteresis(0.03, 3)
    h.update(5, 0.20)
    shown = {5: 0.21}
    h.update(7, 0.19, shown.get)
    h.update(7, 0.19, shown.get)
    h.update(8, 0.19, shown.get)
    assert h.update(7, 0.19, shown.get).target == 5
    assert h.update(7, 0.19, shown.get).target == 5
    assert h.update(7, 0.19, shown.get).target == 7


def test_no_match_and_nobody_are_debounced() -> None:
    h = Hysteresis(0.03, 2)
    h.update(5, 0.2)
    assert h.update(NO_MATCH, None).target == 5  # one bad frame keeps the photo
    assert h.update(NO_MATCH, None).target == NO_MATCH
    assert h.update(3, 0.1).target == 3  # a good match again: at once
    assert h.update(NOBODY, None).target == 3
    d = h.update(NOBODY, None)
    assert d.target == NOBODY and d.changed


def test_one_frame_means_always_follow() -> None:
    h = Hysteresis(0.5, 1)
    h.update(1, 0.3)
    assert h.update(2, 0.29, lambda e: 0.3).target == 2
