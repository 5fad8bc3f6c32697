"""The render thread's nice value, raised at its first frame and restored (fake os calls)."""

from __future__ import annotations

import os

import pytest

from kiosk.app.priority import ThreadNice


class FakeOs:
    def __init__(self, nice: int = 10, refuse_lowering: bool = False) -> None:
        self.nice = {42: nice}
        self.refuse_lowering = refuse_lowering
        self.calls: list[tuple[int, int, int]] = []

    def get(self, which: int, tid: int) -> int:
        return self.nice[tid]

    def set(self, which: int, tid: int, value: int) -> None:
        self.calls.append((which, tid, value))
        if self.refuse_lowering and value < self.nice[tid]:
            raise PermissionError("CAP_SYS_NICE needed")
        self.nice[tid] = value


def _nice(fake: FakeOs, increment: int = 5, platform: str = "linux") -> ThreadNice:
    return ThreadNice(increment, platform=platform, getpriority=fake.get, setpriority=fake.set,
                      native_id=lambda: 42)


def test_the_thread_is_made_nicer_once_and_restored() -> None:
    fake = FakeOs(nice=10)
    n = _nice(fake)
    assert n.lower() is True and fake.nice[42] == 15
    assert n.lower() is False and fake.nice[42] == 15  # once
    n.restore()
    assert fake.nice[42] == 10 and fake.calls == [(os.PRIO_PROCESS, 42, 15), (os.PRIO_PROCESS, 42, 10)]


def test_a_refused_restore_leaves_the_thread_nicer(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeOs(nice=0, refuse_lowering=True)  # no CAP_SYS_NICE: a nice value only goes up
    n = _nice(fake)
    assert n.lower() is True
    n.restore()
    assert fake.nice[42] == 5 and n.applied is None


@pytest.mark.parametrize(("increment", "platform"), [(0, "linux"), (5, "darwin"), (5, "win32")])
def test_nothing_changes_without_an_increment_or_off_linux(increment: int, platform: str) -> None:
    fake = FakeOs()
    n = _nice(fake, increment, platform)
    assert n.lower() is False
    n.restore()
    assert fake.calls == []
