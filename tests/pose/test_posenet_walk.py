"""The numba part-tree walk (kiosk.pose.posenet_walk) gives the numpy reference's poses.

Same count and order, keypoints within 1e-3 px, keypoint and pose scores within 1e-5, with
coral_quirk both ways: on the real raw outputs of the three stripped Coral decoder models on
test_couple.jpg and on crowded PoseNet demo photos, and on random synthetic outputs. Without
numba the "numba" side runs the same kernel as plain Python, which still checks its arithmetic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.core.jit import HAVE_NUMBA
from kiosk.pose.engine import load_pose_model
from kiosk.pose.images import load_image
from kiosk.pose.posenet_decode import DecodedPose, decode_multiple_poses
from kiosk.pose.preprocess import prepare

SIZES = ["353x481", "481x641", "721x1281"]
DEMO = ["multi_skiing.jpg", "tennis_in_crowd.jpg", "two_on_bench.jpg", "skate_park_venice.jpg"]
PX_TOL = 1e-3
SCORE_TOL = 1e-5


def assert_same_poses(jit: list[DecodedPose], ref: list[DecodedPose]) -> None:
    assert len(jit) == len(ref)
    for a, b in zip(jit, ref, strict=True):
        assert np.abs(a.xy - b.xy).max() <= PX_TOL
        assert np.abs(a.scores - b.scores).max() <= SCORE_TOL
        assert abs(a.score - b.score) <= SCORE_TOL


def both(hm: np.ndarray, off: np.ndarray, disp: np.ndarray, **kw: object) -> list[DecodedPose]:
    """Decode with both backends, check they agree, return the numpy reference's poses."""
    ref = decode_multiple_poses(hm, off, disp, jit=False, **kw)  # type: ignore[arg-type]
    assert_same_poses(decode_multiple_poses(hm, off, disp, jit=True, **kw), ref)  # type: ignore[arg-type]
    return ref


@pytest.fixture(scope="module")
def raw_outputs(models_dir: Path, shared_dir: Path) -> dict[str, list[tuple[np.ndarray, ...]]]:
    """Per model size: raw (heatmaps, offsets, displacements) on the couple + demo photos."""
    photos = [shared_dir / "data/coral/test_couple.jpg"]
    photos += [shared_dir / "data/posenet-demo-images" / name for name in DEMO]
    images = [load_image(p) for p in photos]
    out: dict[str, list[tuple[np.ndarray, ...]]] = {}
    for size in SIZES:
        model = load_pose_model(f"posenet-{size}", delegate="cpu", models_dir=models_dir)
        out[size] = []
        for i, rgb in enumerate(images):
            tensor, _ = prepare(rgb, model.input_size, "coral" if i == 0 else "default")
            hm, off, disp, _ = model.raw_outputs(tensor)  # type: ignore[attr-defined]
            out[size].append((hm, off, disp))
    return out


@pytest.mark.parametrize("coral_quirk", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_real_outputs_same_poses(
    raw_outputs: dict[str, list[tuple[np.ndarray, ...]]], size: str, coral_quirk: bool
) -> None:
    counts = [len(both(*o, coral_quirk=coral_quirk)) for o in raw_outputs[size]]
    assert counts[0] >= 2  # the couple
    assert max(counts) >= 5  # a crowd photo exercises suppression and the soft NMS


def test_real_outputs_low_threshold_many_candidates(
    raw_outputs: dict[str, list[tuple[np.ndarray, ...]]],
) -> None:
    """Hundreds of candidates (several chunks), 30 poses: still identical."""
    for o in raw_outputs["481x641"][1:3]:
        assert len(both(*o, score_threshold=0.05, max_poses=30, coral_quirk=True)) >= 10


@pytest.mark.parametrize("coral_quirk", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_synthetic_outputs_same_poses(seed: int, coral_quirk: bool) -> None:
    """Random fields with large displacements and offsets, so positions hit the clamps often."""
    rng = np.random.default_rng(seed)
    h, w = rng.integers(2, 24, 2)
    hm = rng.normal(-1.0, 2.0, (h, w, 17)).astype(np.float32)
    off = rng.normal(0.0, 12.0, (h, w, 34)).astype(np.float32)
    disp = rng.normal(0.0, 40.0, (h, w, 64)).astype(np.float32)
    poses = both(hm[None], off[None], disp[None], coral_quirk=coral_quirk, score_threshold=0.1,
                 max_poses=15, nms_radius=float(rng.uniform(0, 30)),
                 stride=int(rng.choice([8, 16, 32])), refine_steps=int(rng.integers(0, 6)))
    assert len(poses) >= 10


def test_default_backend_follows_kiosk_no_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    import kiosk.pose.posenet_walk as walk

    calls: list[int] = []
    real = walk.decode_candidates_compiled

    def spy(*args: object) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(walk, "decode_candidates_compiled", spy)
    rng = np.random.default_rng(0)
    outs = [rng.normal(0, 2, (5, 6, c)).astype(np.float32) for c in (17, 34, 64)]
    monkeypatch.setenv("KIOSK_NO_NUMBA", "1")
    decode_multiple_poses(*outs)
    assert calls == []
    monkeypatch.setenv("KIOSK_NO_NUMBA", "0")
    decode_multiple_poses(*outs)
    assert calls == ([1] if HAVE_NUMBA else [])


def test_warm_up_compiles_without_error() -> None:
    from kiosk.pose.posenet_walk import walk_kernel, warm_up

    warm_up()
    if HAVE_NUMBA:
        assert walk_kernel.signatures  # type: ignore[attr-defined]
