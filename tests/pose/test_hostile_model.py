"""Hostile model files: truncated and fuzzed copies of the real MoveNet model are refused (or
load) without taking the process down; a trial process that crashes or hangs is reported as such;
a pinned model is loaded without a trial."""

from __future__ import annotations

import logging
import random
import shutil
import sys
from pathlib import Path

import pytest

from kiosk.pose.engine import load_pose_model
from kiosk.pose.modelprobe import ModelRefused, probe_model

MOVENET = "movenet_single_pose_lightning_ptq.tflite"


@pytest.fixture(scope="module")
def movenet_bytes(models_dir: Path) -> bytes:
    return (models_dir / MOVENET).read_bytes()


def fuzzed(data: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    b = bytearray(data)
    for _ in range(rng.choice([1, 8, 64])):
        edge = rng.random() < 0.7  # the flatbuffer tables live near the start and the end
        j = rng.randrange(min(len(b), 100_000)) if edge else rng.randrange(len(b))
        b[-1 - j if rng.random() < 0.5 else j] = rng.randrange(256)
    return bytes(b)


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.3, 0.9999])
def test_a_truncated_model_is_refused_in_a_trial_process(tmp_path: Path, movenet_bytes: bytes,
                                                        fraction: float, use_models_dir: Path) -> None:
    path = tmp_path / "truncated.tflite"
    path.write_bytes(movenet_bytes[:int(len(movenet_bytes) * fraction)])
    with pytest.raises(ModelRefused) as err:
        load_pose_model(path, delegate="cpu")
    assert "truncated.tflite" in str(err.value) and "not pinned" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_a_fuzzed_model_never_takes_the_process_down(tmp_path: Path, movenet_bytes: bytes, seed: int,
                                                     use_models_dir: Path) -> None:
    path = tmp_path / f"fuzzed{seed}.tflite"
    path.write_bytes(fuzzed(movenet_bytes, seed))
    try:
        model = load_pose_model(path, delegate="cpu")
    except ModelRefused:
        return  # refused after its trial: this process never loaded it
    h, w = model.input_size  # it survived its trial: it runs here too
    import numpy as np

    model.estimate(np.zeros((h, w, 3), np.uint8))


@pytest.mark.parametrize(("argv", "words"), [
    ([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGABRT)"],
     ["SIGABRT", "crashed"]),
    ([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"], ["SIGSEGV"]),
    ([sys.executable, "-c", "import sys; print('ValueError: bad tensor', file=sys.stderr); sys.exit(3)"],
     ["bad tensor"]),
    ([sys.executable, "-c", "import time; time.sleep(60)"], ["did not finish"]),
])
def test_a_trial_that_crashes_or_hangs_is_refused(tmp_path: Path, argv: list[str], words: list[str]) -> None:
    with pytest.raises(ModelRefused) as err:
        probe_model(tmp_path / "m.tflite", "cpu", timeout=5, argv=argv)
    for word in words:
        assert word in str(err.value)


def test_a_pinned_model_file_skips_the_trial(tmp_path: Path, models_dir: Path, use_models_dir: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / MOVENET
    shutil.copy(models_dir / MOVENET, path)
    with caplog.at_level(logging.INFO, logger="kiosk.pose.modelprobe"):
        model = load_pose_model(path, delegate="cpu")
    assert model.family == "movenet"
    assert "separate process" not in caplog.text
