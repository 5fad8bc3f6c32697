"""The seams at run time: real implementations and their twins are instances of their protocols
(mypy checks the same structurally in kiosk/app/seams.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kiosk.app.devices.camera.source import CameraSource
from kiosk.app.devices.display.base import Display, MemoryDisplay
from kiosk.gallery.fake import FakeIndex
from kiosk.gallery.protocol import MatchIndex
from kiosk.gallery.reader import GalleryIndex
from kiosk.pose.engine import load_pose_model
from kiosk.pose.fake import FakePoseModel
from kiosk.pose.model import PoseModel
from kiosk.pose.types import Pose
from tests.app.kiosk_fakes import STAND, FakeCamera


def test_the_real_model_and_its_twin_are_pose_models(models_dir: Path) -> None:
    real = load_pose_model("movenet-lightning", delegate="cpu", models_dir=models_dir)
    fake = FakePoseModel([[Pose(STAND, np.ones(17))]])
    for model in (real, fake):
        assert isinstance(model, PoseModel)
        assert model.preprocess == "default" and len(model.input_size) == 2


def test_the_index_and_its_twin_are_match_indexes(tmp_path: Path) -> None:
    fake = FakeIndex(tmp_path, [Pose(STAND, np.ones(17))], size=(40, 30))
    assert isinstance(fake, MatchIndex)
    assert [m.entry_id for m in fake.query(Pose(STAND, np.ones(17)))] == [0]
    fake.close()
    assert fake.closed
    for member in ("vectors", "query", "query_vector", "entry", "rendition_path", "close", "__len__"):
        assert callable(getattr(GalleryIndex, member)), member


def test_devices_and_their_twins() -> None:
    assert isinstance(FakeCamera(), CameraSource)
    assert isinstance(MemoryDisplay((64, 48)), Display)
