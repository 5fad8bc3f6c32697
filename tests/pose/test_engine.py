"""load_pose_model: names, paths, delegates (auto fallback, explicit edgetpu), checksums, fakes."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.assets.fetch import ChecksumError, ModelNotFoundError
from kiosk.assets.manifest import load_manifest
from kiosk.core.checksum import sha256_file
from kiosk.pose.engine import PoseModel, load_pose_model
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.images import load_image
from kiosk.pose.types import Pose


@pytest.fixture(scope="module")
def couple(shared_dir: Path) -> np.ndarray:
    return load_image(shared_dir / "data/coral/test_couple.jpg")


def test_default_model_is_decoder_stripped_posenet(use_models_dir: Path, couple: np.ndarray) -> None:
    model = load_pose_model(delegate="cpu")
    assert isinstance(model, PoseModel)
    assert (model.name, model.family, model.delegate) == ("posenet-481x641", "posenet", "cpu")
    assert model.input_size == (481, 641)
    assert model.sha256 == sha256_file(use_models_dir / load_manifest().get("posenet-481x641").load_file)
    poses = model.estimate(couple)
    assert len(poses) == 2
    assert [p.score for p in poses] == sorted((p.score for p in poses), reverse=True)
    h, w = couple.shape[:2]
    for p in poses:
        assert p.xy[:, 0].max() <= w and p.xy[:, 1].max() <= h and p.xy.min() >= 0
    # the two people stand side by side: left one first (higher score) in this photo
    assert poses[0].bbox()[2] < poses[1].bbox()[2]
    assert set(model.last_timings) == {"preprocess", "invoke", "decode"}


def test_auto_without_edgetpu_falls_back_to_cpu_with_one_line(
    models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kiosk.pose.runtime"):
        model = load_pose_model("movenet-lightning", delegate="auto", models_dir=models_dir)
    assert model.delegate == "cpu"
    # no Edge TPU at all on this machine: one INFO line, no warning (issue 9)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    lines = [r.getMessage() for r in caplog.records if "Edge TPU" in r.getMessage()]
    assert len(lines) == 1
    assert "Edge TPU delegate failed to load" in lines[0] and "running movenet-lightning on CPU" in lines[0]


def test_explicit_edgetpu_fails_clearly(models_dir: Path) -> None:
    with pytest.raises(RuntimeError, match=r"Edge TPU requested.*libedgetpu.*--delegate auto"):
        load_pose_model("posenet-481x641", delegate="edgetpu", models_dir=models_dir)
    with pytest.raises(RuntimeError, match="no Edge TPU variant"):
        load_pose_model("posenet-481x641-components", delegate="edgetpu", models_dir=models_dir)


def test_components_model_loads_and_finds_the_couple(models_dir: Path, couple: np.ndarray) -> None:
    model = load_pose_model("posenet-481x641-components", models_dir=models_dir)
    assert model.delegate == "cpu" and model.family == "posenet"
    assert len(model.estimate(couple)) == 2


def test_load_by_path(models_dir: Path, couple: np.ndarray) -> None:
    entry = load_manifest().get("posenet-353x481")
    model = load_pose_model(models_dir / entry.load_file)
    assert model.name == "posenet-353x481" and model.delegate == "cpu"
    assert len(model.estimate(couple)) == 2
    unknown = models_dir.parent / "mine.tflite"
    shutil.copy(models_dir / load_manifest().get("movenet-lightning").file, unknown)
    assert load_pose_model(unknown).family == "movenet"


def test_unstripped_decoder_path_says_how_to_strip(models_dir: Path) -> None:
    entry = load_manifest().get("posenet-481x641")
    with pytest.raises(RuntimeError, match="strip-decoder"):
        load_pose_model(models_dir / entry.file)
    with pytest.raises(RuntimeError, match="Edge TPU"):
        load_pose_model(
            models_dir / load_manifest().get("posenet-481x641", "edgetpu").load_file, delegate="cpu"
        )


def test_missing_and_corrupt_models(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="kiosk models fetch movenet-lightning"):
        load_pose_model("movenet-lightning", delegate="cpu", models_dir=tmp_path)
    entry = load_manifest().get("movenet-lightning")
    data = bytearray((models_dir / entry.file).read_bytes())
    data[500] ^= 0x55
    (tmp_path / entry.file).write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="refusing to load"):
        load_pose_model("movenet-lightning", delegate="cpu", models_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown model"):
        load_pose_model("posenet-999", models_dir=models_dir)
    with pytest.raises(ValueError, match="delegate"):
        load_pose_model("movenet-lightning", delegate="gpu", models_dir=models_dir)


def test_fake_pose_model_is_a_pose_model() -> None:
    a = Pose(np.zeros((17, 2)), np.full(17, 0.3))
    b = Pose(np.ones((17, 2)), np.full(17, 0.9))
    fake = FakePoseModel([[a, b], []])
    assert isinstance(fake, PoseModel)
    frame = np.zeros((10, 20, 3), np.uint8)
    assert fake.estimate(frame) == [b, a]
    assert fake.estimate(frame) == []
    assert fake.estimate(frame) == [b, a]  # cycles
    assert fake.calls == 3 and fake.frames[0] == (10, 20, 3)
    assert set(fake.last_timings) == {"preprocess", "invoke", "decode"}
    by_fn = FakePoseModel(lambda rgb: [Pose(np.full((17, 2), rgb.shape[1] / 2), np.ones(17))])
    assert by_fn.estimate(frame)[0].xy[0, 0] == 10
    with pytest.raises(ValueError):
        fake.estimate(np.zeros((10, 20), np.uint8))
