"""The display's pace on a fake clock: a fixed schedule, late wake-ups made up, no bursts."""

from __future__ import annotations

from kiosk.app.pacing import Pacer


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(round(s, 6))
        self.t += s + 0.002  # every sleep wakes 2 ms late


def test_a_late_wake_up_is_made_up_on_the_next_frame() -> None:
    c = Clock()
    p = Pacer(50, clock=c, sleep=c.sleep)  # 20 ms steps
    for _ in range(5):
        c.t += 0.005  # 5 ms of work per frame
        p.wait()
    assert c.slept[1:] == [0.013] * 3  # 20 - 5 - 2 (the previous wake-up's lateness)


def test_a_frame_late_by_more_than_a_step_restarts_the_schedule() -> None:
    c = Clock()
    p = Pacer(50, clock=c, sleep=c.sleep)
    p.wait()
    c.t += 0.5  # a long stall
    p.wait()
    assert c.slept == []  # no burst of frames to catch up
    c.t += 0.005
    p.wait()
    assert c.slept == [0.015]


def test_uncapped_never_sleeps() -> None:
    c = Clock()
    p = Pacer(0, clock=c, sleep=c.sleep)
    for _ in range(3):
        p.wait()
    assert c.slept == []
