"""The model's reduced copy of each frame, made in the capture thread, and poses scaled back."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.app.devices.camera.replay_source import ArrayReplay
from kiosk.app.devices.display.base import MemoryDisplay
from kiosk.app.loop import MirrorLoop
from kiosk.app.modelinput import ModelInput, reduce_factor
from kiosk.app.service.config import parse_config
from tests.app.kiosk_fakes import STAND, pose_at


def test_reduce_factor() -> None:
    assert reduce_factor((1080, 1920), (192, 192)) == 5  # letterbox: the long side fits
    assert reduce_factor((1080, 1920), (192, 192), "coral") == 2  # stretch: both sides matter
    assert reduce_factor((720, 1280), (481, 641)) == 1  # PoseNet at 720p: nothing to gain
    assert reduce_factor((100, 100), (192, 192)) == 1


@pytest.mark.parametrize(("canvas", "k"), [(1.0, 1), (1.25, 1), (1.5, 2)])
def test_a_scale_views_canvas_is_reduced_for_its_own_size(canvas: float, k: int) -> None:
    # PoseNet 481x641 at 1080p: the frame alone is kept; on a 1.5x canvas (25 % margins) it
    # would be 4.5x the input, so the frame is halved first (kiosk.pose.scales)
    small, got = ModelInput((481, 641))(np.zeros((1080, 1920, 3), np.uint8), canvas)
    assert got == k and small.shape == (1080 // k, 1920 // k, 3)


def test_reduced_frame_is_a_box_average() -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[:, :5] = 250  # exactly the first column of 5x5 boxes
    small, k = ModelInput((192, 192))(frame)
    assert k == 5 and small.shape == (216, 384, 3)
    assert (small[:, 0] == 250).all() and (small[:, 1:] == 0).all()


class RecordingModel:
    """Finds a 'pose' at fixed coordinates of whatever frame it is given."""

    name, family, delegate, preprocess = "rec", "fake", "cpu", "default"
    input_size = (192, 192)

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.last_timings: dict[str, float] = {}

    def estimate(self, rgb: np.ndarray, margin: float = 0.0):
        self.shapes.append(rgb.shape)
        s = rgb.shape[1] / 1920  # the stand pose, as seen in a frame of this width
        return [pose_at(STAND * s)]


@pytest.mark.parametrize("mirror", [False, True])
def test_poses_come_back_in_camera_pixels(mirror: bool) -> None:
    config = parse_config({"camera": {"mirror": mirror, "replay_loop": False, "replay_realtime": False},
                           "display": {"max_fps": 0, "width": 960, "height": 540},
                           "pose": {"person_frames": 1}})  # the first frame's pose is the one checked
    model = RecordingModel()
    frames = [np.zeros((1080, 1920, 3), np.uint8)] * 3
    loop = MirrorLoop(config, ArrayReplay(frames, loop=False), model, None, MemoryDisplay((960, 540)),
                      threaded=False)
    loop.start()
    r = loop.step()
    loop.close()
    assert model.shapes[0] == (216, 384, 3)
    expected = pose_at(STAND)
    if mirror:
        expected = expected.flipped(1920)
    assert np.allclose(r.main_pose.xy, expected.xy, atol=1e-3)


def test_numba_and_pillow_reductions_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.app.modelinput import box_reduce

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (107, 203, 3), dtype=np.uint8)
    fast = box_reduce(frame, 5)
    monkeypatch.setenv("KIOSK_NO_NUMBA", "1")
    slow = box_reduce(frame, 5)
    assert fast.shape == slow.shape == (21, 40, 3)
    assert np.abs(fast.astype(int) - slow.astype(int)).max() <= 1
    box = frame[5:10, 10:15].reshape(-1, 3).mean(axis=0)
    assert np.abs(fast[1, 2] - box).max() <= 0.5 + 1e-9


@pytest.mark.parametrize(("shape", "k"), [((1080, 1920), 5), ((107, 203), 3), ((64, 48), 2), ((33, 31), 10),
                                          ((720, 1280), 1)])
def test_box_reduce_is_the_rounded_box_mean(shape: tuple[int, int], k: int) -> None:
    from kiosk.app.modelinput import box_reduce

    frame = np.random.default_rng(k).integers(0, 256, (*shape, 3), dtype=np.uint8)
    h, w = shape[0] // k, shape[1] // k
    sums = frame[:h * k, :w * k].reshape(h, k, w, k, 3).astype(np.int64).sum(axis=(1, 3))
    expected = (sums + (k * k) // 2) // (k * k)
    assert np.array_equal(box_reduce(frame, k), expected)
    view = frame[:, ::-1]  # a rotated/mirrored frame is a strided view
    assert np.array_equal(box_reduce(view, k), box_reduce(np.ascontiguousarray(view), k))
