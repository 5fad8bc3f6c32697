"""Acceptance: the numpy decoder reproduces Coral's own PosenetDecoderOp reference outputs.

For each *_quant_decoder.tflite CPU model, stripped of its decoder op, the raw outputs on
test_couple.jpg (stretched to the input with nearest neighbour, as Coral did) decode to the
poses of Coral's reference CSV: same count, same order, keypoints within 4.0 px, scores within 0.1,
with the compiled part-tree walk and with the numpy reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.assets.manifest import load_manifest
from kiosk.pose.coral_reference import PX_TOL, SCORE_TOL, SIZES, read_reference, reference_csv
from kiosk.pose.engine import load_pose_model
from kiosk.pose.images import load_image
from kiosk.pose.posenet_decode import decode_multiple_poses
from kiosk.pose.preprocess import prepare


@pytest.fixture(scope="module")
def couple(shared_dir: Path) -> np.ndarray:
    return load_image(shared_dir / "data/coral/test_couple.jpg")


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("coral_quirk", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_decoder_reproduces_coral_reference(
    models_dir: Path, shared_dir: Path, couple: np.ndarray, size: str, coral_quirk: bool,
    backend: str,
) -> None:
    """backend: the part-tree walk of kiosk.pose.posenet_walk (numba; plain Python without
    numba) or the numpy reference."""
    model = load_pose_model(f"posenet-{size}", delegate="cpu", models_dir=models_dir)
    assert model.sha256 != load_manifest().get(f"posenet-{size}").sha256  # the stripped file
    tensor, _ = prepare(couple, model.input_size, "coral")
    hm, off, disp, _ = model.raw_outputs(tensor)  # type: ignore[attr-defined]
    poses = decode_multiple_poses(hm, off, disp, coral_quirk=coral_quirk, jit=backend == "numba")
    ref = read_reference(reference_csv(shared_dir, size))
    assert len(ref) >= 2
    assert len(poses) == len(ref)
    for got, want in zip(poses, ref, strict=True):
        assert np.linalg.norm(got.xy - want.xy, axis=1).max() <= PX_TOL
        assert np.abs(got.scores - want.scores).max() <= SCORE_TOL
        assert abs(got.score - want.score) <= SCORE_TOL


def test_coral_preprocessing_is_pils_nearest(couple: np.ndarray) -> None:
    for size in SIZES:
        h, w = (int(v) for v in size.split("x"))
        tensor, tf = prepare(couple, (h, w), "coral")
        expected = np.asarray(Image.fromarray(couple).resize((w, h), Image.NEAREST))
        assert np.array_equal(tensor, expected), size
        assert (tf.offset_x, tf.offset_y) == (0.0, 0.0)


def test_estimate_with_coral_preprocessing_maps_reference_to_source(
    models_dir: Path, shared_dir: Path, couple: np.ndarray
) -> None:
    """The full estimate() path: Coral's reference, scaled to the photo, matches within tolerance."""
    model = load_pose_model("posenet-481x641", delegate="cpu", preprocess="coral", models_dir=models_dir)
    poses = model.estimate(couple)
    ref = read_reference(reference_csv(shared_dir, "481x641"))
    assert len(poses) == len(ref)
    sx = couple.shape[1] / 641
    sy = couple.shape[0] / 481
    for got, want in zip(poses, ref, strict=True):
        expected = (want.xy + 0.5) * np.array([sx, sy])
        assert np.linalg.norm(got.xy - expected, axis=1).max() <= PX_TOL * max(sx, sy)
    assert set(model.last_timings) == {"preprocess", "invoke", "decode"}
    assert all(v >= 0 for v in model.last_timings.values())


def test_coral_reference_report(
    models_dir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiosk.pose import coral_reference

    assert coral_reference.main(["--mirror", str(shared_dir), "--models-dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count(" yes") == 3 and "NO" not in out
