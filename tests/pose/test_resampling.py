"""kiosk.pose.resampling and `kiosk eval resampling` on the real MoveNet and real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.core.enums import Fitting
from kiosk.pose.engine import load_pose_model
from kiosk.pose.model import PoseModel
from kiosk.pose.resampling import fitted, measure, spreads

PHOTOS = "data/posenet-demo-images"


@pytest.fixture(scope="module")
def frames(shared_dir: Path) -> list[np.ndarray]:
    from kiosk.pose.images import load_image

    return [load_image(shared_dir / PHOTOS / name) for name in ("tennis_standing.jpg", "baseball.jpg")]


@pytest.mark.parametrize("fitting", list(Fitting))
def test_a_fitting_gives_the_model_the_frame_or_a_stretch_at_input_size(fitting: Fitting) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    out = fitted(rgb, fitting, (192, 160))
    if fitting is Fitting.LETTERBOX:
        assert out is rgb  # the model letterboxes it itself
    else:
        assert out.shape == (192, 160, 3) and out.dtype == np.uint8


def test_stretches_reduce_as_tflite_and_pil_nearest_do() -> None:
    """Nearest is PIL's NEAREST bit for bit; bilinear has two taps (TFLite's ResizeBilinear), so a
    3x reduction of noise keeps its contrast where PIL's widened BILINEAR filter averages it away."""
    from PIL import Image

    rgb = np.random.default_rng(2).integers(0, 256, (576, 480, 3), dtype=np.uint8)
    pil = Image.fromarray(rgb)
    np.testing.assert_array_equal(fitted(rgb, Fitting.STRETCH_NEAREST, (192, 160)),
                                  np.asarray(pil.resize((160, 192), Image.Resampling.NEAREST)))
    smoothed = np.asarray(pil.resize((160, 192), Image.Resampling.BILINEAR, reducing_gap=None))
    assert fitted(rgb, Fitting.STRETCH_BILINEAR, (192, 160)).std() > 2 * smoothed.std()


def test_the_same_fitting_twice_has_no_spread_and_the_fittings_do(
        frames: list[np.ndarray], models_dir: Path) -> None:
    """The spread comes from the fitting, not from a model that varies from run to run."""
    def load(preprocess: str) -> PoseModel:
        return load_pose_model("movenet-lightning", delegate="cpu", preprocess=preprocess,
                               models_dir=models_dir)

    same = (Fitting.STRETCH_BILINEAR, Fitting.STRETCH_BILINEAR)
    table, (pair,) = measure(load, frames, same)
    assert table.shape == (2, 2, 17) and pair.max == 0.0
    table, pairs = measure(load, frames)
    assert table.shape == (2, len(Fitting), 17)
    assert [(s.a, s.b) for s in pairs][:3] == [(Fitting.LETTERBOX, f) for f in list(Fitting)[1:]]
    # (a mean above the 95th percentile is possible: a few large differences among many zeros)
    assert max(s.max for s in pairs) > 0.0
    assert all(0.0 <= s.mean <= s.max <= 1.0 and 0.0 <= s.p95 <= s.max for s in pairs)


def test_spreads_are_the_score_differences_of_each_pair() -> None:
    table = np.zeros((1, 3, 17))
    table[0, 1, 4], table[0, 2, 4] = 0.5, 0.2
    fits = (Fitting.LETTERBOX, Fitting.STRETCH_NEAREST, Fitting.STRETCH_BILINEAR)
    assert [round(s.max, 6) for s in spreads(table, fits)] == [0.5, 0.2, 0.3]


def test_no_frames_have_no_spreads() -> None:
    assert spreads(np.zeros((0, len(Fitting), 17))) == []
