"""What to show, decided without threads, display or disk: a set stands for the loaded photos."""

from __future__ import annotations

from kiosk.app.mirror.director import Director, MirrorState
from kiosk.app.mirror.perceive import Perceiver
from kiosk.app.mirror.target import NO_MATCH, NOBODY, Target
from kiosk.app.service.config import parse_config
from tests.app.kiosk_fakes import STAND, pose_at, squat


class Shelf:
    def __init__(self, loaded: set[int]) -> None:
        self.loaded = loaded
        self.requested: list[int] = []

    def ready(self, entry: int) -> bool:
        return entry in self.loaded

    def request(self, entry: int) -> None:
        self.requested.append(entry)


def test_a_photo_is_shown_once_loaded_and_the_screen_never_waits() -> None:
    d = Director(idle_timeout_s=10, slide_seconds=2)
    d.reset(5)
    shelf = Shelf(set())
    assert d.decide(Target.photo(3), 0.0, 0.0, shelf).state is MirrorState.SEARCHING
    assert shelf.requested == [3]
    shelf.loaded.add(3)
    c = d.decide(Target.photo(3), 0.1, 0.1, shelf)
    assert (c.state, c.entry, c.content) == (MirrorState.RUNNING, 3, ("photo", 3))
    assert d.decide(Target.photo(4), 0.2, 0.2, shelf).entry == 3  # 4 not loaded: 3 stays
    assert d.decide(NO_MATCH, 0.3, 0.3, shelf).state is MirrorState.NO_MATCH


def test_nobody_long_enough_starts_the_slideshow_and_a_visitor_ends_it() -> None:
    d = Director(idle_timeout_s=1.0, slide_seconds=0.5)
    d.reset(3)
    shelf = Shelf({0, 1, 2})
    assert d.decide(NOBODY, None, 0.0, shelf).state is MirrorState.SEARCHING
    shown = [d.decide(NOBODY, None, t / 10, shelf) for t in range(10, 40)]
    assert all(c.state is MirrorState.IDLE for c in shown)
    assert len({c.entry for c in shown}) >= 2  # the slides move on
    assert d.decide(Target.photo(1), 4.0, 4.0, shelf).state is MirrorState.RUNNING


def test_without_an_index_the_screen_says_so() -> None:
    d = Director(idle_timeout_s=1.0, slide_seconds=0.5)
    d.reset(None)
    c = d.decide(Target.photo(1), 0.0, 0.0, Shelf({1}))
    assert c.content == ("panel", "no_index") and c.entry is None


def test_the_perceiver_follows_the_visitor_and_names_the_target(tmp_path) -> None:
    from tests.app.kiosk_fakes import FakeIndex

    index = FakeIndex(tmp_path / "i", [pose_at(STAND), pose_at(squat(1.0))], size=(48, 54))
    p = Perceiver(parse_config({"match": {"hysteresis_frames": 2}}))
    p.set_index(index)
    frames = p.config.pose.person_frames  # a detection must look like a person this many frames first
    early = [p.perceive([pose_at(STAND)], (720, 1280), -0.1 * k) for k in range(frames - 1, 0, -1)]
    assert all(e.target == NOBODY for e in early)
    first = p.perceive([pose_at(STAND)], (720, 1280), 0.0)
    assert first.target == Target.photo(0) and first.visitor and first.main is not None
    assert p.perceive([], (720, 1280), 0.1).target == Target.photo(0)  # one missing frame changes nothing
    for t in (0.2, 0.3, 0.4):
        last = p.perceive([pose_at(squat(1.0))], (720, 1280), t)
    assert last.candidate == Target.photo(1) and last.target == Target.photo(1)
    assert last.velocity is not None and last.velocity.shape == (17, 2)  # for carrying the skeleton
