"""MirrorLoop with twins: a scripted model, a fake index, in-memory replays, a memory display."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.app.devices.camera.replay_source import ArrayReplay
from kiosk.app.devices.camera.source import CameraFailed, EndOfStream
from kiosk.app.devices.display.base import MemoryDisplay
from kiosk.app.loop import FrameReport, MirrorLoop
from kiosk.app.service.config import parse_config
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.scales import MARGINS, padded
from tests.app.kiosk_fakes import (
    STAND,
    FakeCamera,
    FakeIndex,
    FrameClock,
    ScriptedModel,
    arms_up,
    pose_at,
    squat,
)

POSES = [STAND, squat(1.0), arms_up()]


def _config(**over):
    data = {"camera": {"mirror": False, "replay_loop": False, "replay_realtime": False},
            "display": {"max_fps": 0, "crossfade_ms": 250, "width": 960, "height": 540},
            "attract": {"idle_timeout_s": 1.0, "slide_seconds": 1.0},
            "pose": {"person_frames": 1}}  # the loop's mechanics; persistence: tests/app/mirror
    for section, values in over.items():
        data.setdefault(section, {}).update(values)
    return parse_config(data)


def _replay(n: int, fps: float = 10.0) -> ArrayReplay:
    return ArrayReplay([np.zeros((1280, 720, 3), np.uint8)] * n, fps=fps, realtime=False, loop=False)


def _serial(*args, **kwargs) -> MirrorLoop:
    """A started loop estimating inside step() (one pose per displayed frame: exact frame counts)."""
    loop = MirrorLoop(*args, threaded=False, clock=FrameClock(1 / 30), **kwargs)
    loop.start()
    return loop


def _step_until(loop: MirrorLoop, done, bound: int = 500) -> FrameReport:
    for _ in range(bound):
        r = loop.step()
        if done(r):
            return r
    raise AssertionError(f"not reached in {bound} frames (last: {r})")


def _run(loop: MirrorLoop) -> list[FrameReport]:
    reports = []
    with pytest.raises(EndOfStream):
        while True:
            reports.append(loop.step())
    return reports


@pytest.fixture()
def index(tmp_path: Path) -> FakeIndex:
    return FakeIndex(tmp_path / "index", [pose_at(p) for p in POSES], size=(480, 540))


def test_the_photo_follows_the_pose(index: FakeIndex, tmp_path: Path, caplog) -> None:
    script = [STAND] * 12 + [squat(1.0)] * 12 + [arms_up()] * 12
    model = ScriptedModel(lambda n, f: [pose_at(script[n - 1])])
    display = MemoryDisplay((960, 540))
    shots = tmp_path / "shots"
    loop = _serial(_config(), _replay(len(script)), model, index, display, screenshots=shots)
    with caplog.at_level(logging.WARNING):
        reports = _run(loop)
    loop.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(reports) == 36 and all(r.poses == 1 and r.main_pose is not None for r in reports)
    shown = [r.shown_entry for r in reports]
    assert shown[10] == 0 and shown[22] == 1 and shown[35] == 2
    changes = [r.shown_entry for r in reports if r.changed]
    # three photos; the first frame shows the first already: its perception was published with
    # its photo decoded (Photos.prepare in the pose worker), nothing waits for the image cache
    assert changes == [0, 1, 2]
    switches = [r.timings.get("switch_latency") for r in reports if r.changed and r.shown_entry is not None]
    assert all(ms is not None and ms >= 0 for ms in switches)  # measured from the deciding camera frame
    assert all(r.state == "running" for r in reports if r.shown_entry is not None)
    assert all(r.distance is not None and r.distance < 0.05 for r in reports[11::12])
    names = sorted(p.name for p in shots.iterdir())
    assert [n for n in names if "entry" in n][-3:] and "last.png" in names
    for entry in (0, 1, 2):
        [path] = [shots / n for n in names if n.endswith(f"_entry{entry}.png")]
        img = np.asarray(Image.open(path).convert("RGB"))
        assert tuple(img[270, 700]) == index.colours[entry]  # the photo half shows the rendition
    assert {"capture_wait", "pose", "match", "render", "invoke"} <= set(loop.stage_ms)
    assert loop.fps > 0


def test_no_good_match_never_shows_a_random_photo(index: FakeIndex) -> None:
    odd = STAND.copy()
    odd[5:11] = [[100, 100], [600, 1200], [50, 900], [700, 100], [10, 10], [710, 1270]]
    model = ScriptedModel(lambda n, f: [pose_at(odd)])
    display = MemoryDisplay((960, 540))
    loop = _serial(_config(match={"max_distance": 0.05}), _replay(10), model, index, display)
    reports = _run(loop)
    loop.close()
    assert all(r.shown_entry is None for r in reports)
    # NOBODY -> NO_MATCH is debounced like any change that is not to a photo: hysteresis_frames (3)
    # and hysteresis_s (0.3 s of pose time): at 10 poses a second, the fourth pose
    assert [r.state for r in reports] == ["searching"] * 3 + ["no_match"] * 7
    assert tuple(display.last_frame[5, 700]) == (18, 18, 22)  # the message panel, not a photo


def test_attract_slideshow_after_the_idle_timeout_then_back(index: FakeIndex) -> None:
    def poses(n: int, frame: np.ndarray):
        return [pose_at(STAND)] if n > 50 else []

    model = ScriptedModel(poses)
    loop = _serial(_config(), _replay(60), model, index, MemoryDisplay((960, 540)))
    reports = _run(loop)
    loop.close()
    states = [r.state for r in reports]
    assert states[:9] == ["searching"] * 9  # frame time 0 .. 0.8 s < idle_timeout_s
    assert states[12:50] == ["idle"] * 38
    slides = [r.shown_entry for r in reports[12:50]]
    assert len({s for s in slides if s is not None}) >= 2  # the slideshow moves on
    assert states[-1] == "running" and reports[-1].shown_entry == 0


def test_without_an_index_the_kiosk_says_so(tmp_path: Path) -> None:
    model = ScriptedModel(lambda n, f: [pose_at(STAND)])
    display = MemoryDisplay((960, 540))
    loop = _serial(_config(), _replay(20), model, None, display)
    reports = _run(loop)
    loop.close()
    assert all(r.state == "searching" and r.shown_entry is None and r.poses == 1 for r in reports)
    assert display.last_frame[:, 480:].max() == 255  # the "No index loaded" text


def test_a_failing_stage_is_logged_and_the_loop_goes_on(index: FakeIndex, caplog) -> None:
    def poses(n: int, frame: np.ndarray):
        if n in (3, 4):
            raise RuntimeError("interpreter hiccup")
        return [pose_at(STAND)]

    loop = _serial(_config(), _replay(8), ScriptedModel(poses), index, MemoryDisplay((960, 540)))
    with caplog.at_level(logging.ERROR):
        reports = _run(loop)
    loop.close()
    assert len(reports) == 8 and reports[3].poses == 0 and reports[-1].poses == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "pose stage failed on estimate 3" in errors[0].getMessage()
    assert loop.stage_errors == {"pose": 2}


def test_camera_failure_ends_the_loop(index: FakeIndex) -> None:
    cam = FakeCamera(paced=True, plan=lambda n: "ok" if n <= 2 else "fail")
    loop = _serial(_config(camera={"max_failures": 2}), cam, ScriptedModel(lambda n, f: []), index,
                      MemoryDisplay((960, 540)))
    with pytest.raises(CameraFailed):
        for _ in range(100):
            loop.step()
    loop.close()
    assert cam.closed


def test_reports_count_the_captures_the_camera_survived(index: FakeIndex) -> None:
    cam = FakeCamera(paced=True, plan=lambda n: "fail" if n in (3, 4) else "ok")
    loop = _serial(_config(camera={"max_failures": 3}), cam, ScriptedModel(lambda n, f: []), index,
                   MemoryDisplay((960, 540)))
    reports = [loop.step() for _ in range(8)]
    loop.close()
    assert reports[-1].camera_failures == 2  # the two failed captures, the loop going on


def test_apply_swaps_index_and_config_between_frames(index: FakeIndex, tmp_path: Path) -> None:
    model = ScriptedModel(lambda n, f: [pose_at(squat(1.0))])
    display = MemoryDisplay((960, 540))
    cam = ArrayReplay([np.zeros((1280, 720, 3), np.uint8)], fps=10, realtime=False, loop=True)
    loop = _serial(_config(), cam, model, index, display)
    r = _step_until(loop, lambda r: r.shown_entry == 1)  # once its photo is loaded (another thread)
    other = FakeIndex(tmp_path / "other", [pose_at(arms_up()), pose_at(squat(1.0))], size=(480, 540),
                      index_id="fake-2")
    loop.apply(index=other)
    r = loop.step()  # nothing of the old index stays on screen: the new index's photo (decoded
    # with the perception that matched it) or none
    slot = loop.renderer.photo_slot
    assert r.shown_entry is None or loop.renderer.card_key == ("photo", ("fake-2", 1, slot))
    r = _step_until(loop, lambda r: r.shown_entry == 1)
    assert loop.index is other and other.queries >= 2
    loop.apply(config=_config(display={"layout": "full_mirror"}))
    for _ in range(30):  # the photo is reloaded for the new slot, then crossfaded in
        r = loop.step()
        if r.state == "running" and not r.fading:
            break
    assert r.state == "running"
    frame = display.last_frame
    assert tuple(frame[200, 480]) == other.colours[1]  # full mirror: the photo in the middle of the screen
    assert frame[200, 10].sum() == 0  # a 480x540 rendition is fitted, black on the sides
    loop.close()


def test_close_saves_the_last_screen(index: FakeIndex, tmp_path: Path) -> None:
    loop = _serial(_config(), _replay(3), ScriptedModel(lambda n, f: []), index, MemoryDisplay((960, 540)),
                      screenshots=tmp_path / "s")
    _run(loop)
    loop.close()
    assert (tmp_path / "s" / "last.png").is_file()
    assert not loop.grabber._thread  # stopped


def test_closing_the_window_stops_like_ctrl_c(index: FakeIndex) -> None:
    # Python's Ctrl-C handler, whatever this process inherited (a background job ignores SIGINT).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        display = MemoryDisplay((960, 540))
        cam = ArrayReplay([np.zeros((1280, 720, 3), np.uint8)], fps=10, realtime=False, loop=True)
        loop = _serial(_config(), cam, ScriptedModel(lambda n, f: []), index, display)
        loop.step()
        display.quit_requested = True
        with pytest.raises(KeyboardInterrupt):
            loop.step()
        loop.close()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_camera_rotation_turns_frames_clockwise(index: FakeIndex) -> None:
    seen: list[np.ndarray] = []

    def poses(n: int, frame: np.ndarray):
        seen.append(frame.copy())
        return []

    frame = np.zeros((100, 200, 3), np.uint8)
    frame[0, 0] = (255, 0, 0)  # top left
    cam = ArrayReplay([frame], fps=10, realtime=False, loop=False)
    loop = _serial(_config(camera={"rotation": 90}), cam, ScriptedModel(poses, delay=0), index,
                      MemoryDisplay((960, 540)))
    loop.step()
    loop.close()
    assert seen[0].shape == (200, 100, 3)
    assert tuple(seen[0][0, 99]) == (255, 0, 0)  # turned clockwise: top left -> top right


def test_a_new_target_is_published_with_its_photo_decoded_and_ends_the_pacers_wait(index: FakeIndex) -> None:
    script = [STAND] * 2 + [squat(1.0)] * 3  # a clearly better photo is confirmed on a second pose
    model = ScriptedModel(lambda n, f: [pose_at(script[min(n, len(script)) - 1])])
    cam = ArrayReplay([np.zeros((540, 960, 3), np.uint8)], fps=10, realtime=False, loop=True)
    loop = _serial(_config(), cam, model, index, MemoryDisplay((960, 540)))
    try:
        targets, ready, woken = [], [], []
        for _ in script:  # the pose worker's work, inline: estimate, match, prepare, publish
            p = loop.worker.run_once(5)
            assert p is not None
            targets.append(p.target.entry)
            # the photo is in the cache the moment the perception is visible (no loader wait)
            assert p.target.entry is not None and loop.photos.cache is not None
            ready.append(loop.photos.cache.ready_at(loop.photos.key(p.target.entry)) is not None)
            woken.append(loop.pacer.pending)
            loop.pacer.wait()  # consumes the wake (max_fps 0: without sleeping)
        assert targets == [0, 0, 0, 1, 1] and all(ready)
        assert woken == [True, False, False, True, False]  # the wait ends early for a new target only
    finally:
        loop.close()


def test_a_challengers_photo_is_loaded_before_it_becomes_the_target(index: FakeIndex) -> None:
    script = [STAND] * 2 + [squat(1.0)] * 3  # the squat is confirmed on its second pose
    model = ScriptedModel(lambda n, f: [pose_at(script[min(n, len(script)) - 1])])
    cam = ArrayReplay([np.zeros((540, 960, 3), np.uint8)], fps=10, realtime=False, loop=True)
    loop = _serial(_config(), cam, model, index, MemoryDisplay((960, 540)))
    try:
        for _ in range(3):
            p = loop.worker.run_once(5)
        assert p is not None and (p.candidate.entry, p.target.entry) == (1, 0)  # a challenger
        assert loop.photos.cache is not None
        key = loop.photos.key(1)
        deadline = time.monotonic() + 30  # the loader thread's work, not its speed, is tested
        while loop.photos.cache.ready_at(key) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        loaded_at = loop.photos.cache.ready_at(key)
        assert loaded_at is not None  # loaded while the squat was still a challenger
        p = loop.worker.run_once(5)
        assert p is not None and p.target.entry == 1
        assert loop.photos.cache.ready_at(key) == loaded_at  # prepare found it: not decoded again
    finally:
        loop.close()


#: the box STAND fills in the camera frame (x0, y0, x1, y1), painted white by _stand_frames
_BOX = (int(STAND[:, 0].min()), int(STAND[:, 1].min()), int(STAND[:, 0].max()), int(STAND[:, 1].max()))


def _stand_frames(n: int) -> ArrayReplay:
    frame = np.zeros((1280, 720, 3), np.uint8)
    frame[_BOX[1]:_BOX[3], _BOX[0]:_BOX[2]] = 255
    return ArrayReplay([frame] * n, fps=10.0, realtime=False, loop=False)


def _seeing_stand(family: str, input_size: tuple[int, int] = (481, 641),
                  heights: list[float] | None = None, delegate: str = "cpu") -> FakePoseModel:
    """A model of this family that finds the white box of _stand_frames in whatever it is given
    (the camera frame, its reduced copy, a canvas round it) and lays STAND out in it; heights
    collects the box's share of each input's height."""
    x0, y0, x1, y1 = _BOX
    layout = (STAND - [x0, y0]) / [x1 - x0, y1 - y0]

    def script(rgb: np.ndarray) -> list:
        ys, xs = np.nonzero(rgb[..., 0] > 127)
        box = np.array([xs.min(), ys.min()]), np.array([xs.max() + 1, ys.max() + 1])
        if heights is not None:
            heights.append(float(box[1][1] - box[0][1]) / rgb.shape[0])
        return [pose_at(box[0] + layout * (box[1] - box[0]))]

    return FakePoseModel(script, name=family, family=family, input_size=input_size, delegate=delegate)


@pytest.mark.parametrize(("family", "setting", "on"),
                         [("posenet", "auto", True), ("movenet", "auto", False),
                          ("movenet", "always", True), ("posenet", "never", False)])
def test_scale_views_cycle_the_model_input_and_vote_the_visitor(index: FakeIndex, family: str,
                                                                setting: str, on: bool) -> None:
    model = _seeing_stand(family)
    loop = _serial(_config(pose={"scale_views": setting}), _stand_frames(12), model, index,
                   MemoryDisplay((960, 540)))
    for _ in range(7):
        loop.step()
    frame = np.zeros((1280, 720, 3), np.uint8)
    sizes = [padded(frame, m)[0].shape for m in MARGINS] if on else [frame.shape]
    assert model.frames[:6] == [sizes[k % len(sizes)] for k in range(6)]
    main = loop.worker.latest.main if loop.worker.latest else None
    assert main is not None
    np.testing.assert_allclose(main.xy, STAND, atol=1e-3)  # every view mapped back to the frame
    loop.close()


def test_scale_views_map_back_through_the_models_reduction_and_the_mirror(index: FakeIndex) -> None:
    heights: list[float] = []
    model = _seeing_stand("posenet", input_size=(160, 90), heights=heights)
    loop = _serial(_config(camera={"mirror": True}), _stand_frames(12), model, index,
                   MemoryDisplay((960, 540)))
    try:
        for _ in range(7):
            loop.step()
        person = (_BOX[3] - _BOX[1]) / 1280  # the person at 1, 0.8 and 0.67 times their size
        assert sorted({round(h / person, 1) for h in heights}) == [0.7, 0.8, 1.0]
        for shape in model.frames:  # every canvas (not only the frame) reduced to 2-3x the input
            assert 2 <= max(shape[0] / 160, shape[1] / 90) < 3, shape
        main = loop.worker.latest.main if loop.worker.latest else None
        assert main is not None
        np.testing.assert_allclose(main.xy, pose_at(STAND).flipped(720).xy, atol=8)  # 6x reduced
    finally:
        loop.close()


def test_scale_views_can_be_switched_between_frames(index: FakeIndex) -> None:
    model = _seeing_stand("posenet")
    loop = _serial(_config(), _stand_frames(12), model, index, MemoryDisplay((960, 540)))
    loop.step()
    loop.apply(config=_config(pose={"scale_views": "never"}))
    model.frames.clear()
    for _ in range(4):
        loop.step()
    assert model.frames and set(model.frames) == {(1280, 720, 3)}
    loop.close()


@pytest.mark.parametrize(("delegate", "setting", "runs"),
                         [("edgetpu", "auto", 2), ("cpu", "auto", 1), ("cpu", "always", 2),
                          ("edgetpu", "never", 1)])
def test_flip_views_estimate_each_frame_mirrored_too(index: FakeIndex, delegate: str, setting: str,
                                                     runs: int) -> None:
    model = _seeing_stand("movenet", delegate=delegate)  # MoveNet: one size, no scale views
    loop = _serial(_config(pose={"flip_views": setting}), _stand_frames(12), model, index,
                   MemoryDisplay((960, 540)))
    try:
        for _ in range(4):
            loop.step()
        assert model.calls == 4 * runs
        main = loop.worker.latest.main if loop.worker.latest else None
        assert main is not None
        np.testing.assert_allclose(main.xy, STAND, atol=1.0)  # (flipping back: tests/pose/test_flip.py)
        loop.apply(config=_config(pose={"flip_views": "never" if runs == 2 else "always"}))
        loop.step()
        assert model.calls == 4 * runs + (1 if runs == 2 else 2)
    finally:
        loop.close()
