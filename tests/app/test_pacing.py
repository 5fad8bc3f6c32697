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


class WakeClock:
    """A fake clock whose sleep is ended by a wake planned at time `wake_at` (None: no wake)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.wake_at: float | None = None
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> bool:
        self.slept.append(round(s, 6))
        if self.wake_at is not None and self.wake_at < self.t + s:
            self.t, self.wake_at = max(self.wake_at, self.t), None
            return True
        self.t += s
        return False


def test_a_wake_ends_the_wait_and_the_schedule_restarts_from_it() -> None:
    c = WakeClock()
    p = Pacer(50, clock=c, sleep=c.sleep)  # 20 ms steps
    p.wait()  # first frame: the schedule starts (due at 0.020)
    c.t += 0.005
    c.wake_at = 0.012  # a new target arrives 7 ms into the wait
    assert p.wait() is True and round(c.t, 6) == 0.012  # presented at once, not at 0.020
    c.t += 0.005
    assert p.wait() is False and round(c.t, 6) == 0.032  # the next frame a whole step after it
    assert p.woken == 1


def test_a_wake_before_the_wait_returns_at_once() -> None:
    c = WakeClock()
    p = Pacer(50, clock=c, sleep=c.sleep)
    p.wait()
    c.t += 0.005
    p.wake()  # the perception came while the frame was being composed
    assert p.wait() is True and c.slept == [] and round(c.t, 6) == 0.005
    c.t += 0.005
    assert p.wait() is False and c.slept == [0.015]  # then the ordinary pace again


def test_a_wake_is_used_once() -> None:
    p = Pacer(50)  # the real event, no sleeping: a wake is pending before each wait
    p.wait()
    p.wake()
    assert p.wait() is True
    assert not p.pending  # consumed: the next wait sleeps again
