"""`kiosk compare` on real photos with the real pose model, and compare_poses on known poses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.cli.compare_cmd import compare_poses
from kiosk.cli.main import main
from kiosk.match import pose_vector, weighted_distance
from kiosk.match.synth import synth_poses
from kiosk.pose.types import Pose

DEMO = "data/posenet-demo-images"


def run_json(capsys: pytest.CaptureFixture[str], a: Path, b: Path) -> dict:
    code = main(["compare", str(a), str(b), "--json", "--delegate", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def test_a_photo_matches_itself(use_models_dir: Path, shared_dir: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    photo = shared_dir / DEMO / "tennis_standing.jpg"
    doc = run_json(capsys, photo, photo)
    assert doc["cosine_similarity"] == pytest.approx(1.0, abs=1e-6)
    assert doc["cosine_distance"] == pytest.approx(0.0, abs=1e-3)
    assert doc["weighted_distance"] == pytest.approx(0.0, abs=1e-6)
    assert doc["reference"]["image"] == str(photo) and len(doc["imitation"]["pose"]["keypoints"]) == 17


def test_a_mirrored_photo_matches_as_a_mirror(use_models_dir: Path, shared_dir: Path,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    photo = shared_dir / DEMO / "tennis_standing.jpg"
    flipped = tmp_path / "flipped.png"
    Image.open(photo).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    doc = run_json(capsys, photo, flipped)
    # the model sees (nearly) the mirrored pose: mirroring it back brings it close
    assert doc["mirrored"]["cosine_distance"] < 0.1
    assert doc["mirrored"]["cosine_distance"] < doc["cosine_distance"]


def test_different_people_differ(use_models_dir: Path, shared_dir: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, shared_dir / DEMO / "tennis_standing.jpg",
                   shared_dir / DEMO / "skiing.jpg")
    assert 0.05 < doc["cosine_distance"] <= 2 ** 0.5
    assert doc["cosine_similarity"] == pytest.approx(1 - doc["cosine_distance"] ** 2 / 2, abs=1e-5)
    assert doc["weighted_distance"] > 0


def test_text_output(use_models_dir: Path, shared_dir: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    photo = shared_dir / DEMO / "tennis_standing.jpg"
    assert main(["compare", str(photo), str(photo), "--delegate", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "cosine similarity  1.0000" in out and "weighted distance" in out


@pytest.mark.parametrize(("make", "code", "message"), [
    (lambda d: Image.new("RGB", (320, 240), "white").save(d / "blank.png") or d / "blank.png",
     1, "no person found"),
    (lambda d: d / "missing.jpg", 2, "missing.jpg"),
])
def test_bad_inputs(use_models_dir: Path, shared_dir: Path, tmp_path: Path,
                    capsys: pytest.CaptureFixture[str], make, code: int, message: str) -> None:
    bad = make(tmp_path)
    assert main(["compare", str(shared_dir / DEMO / "tennis_standing.jpg"), str(bad),
                 "--delegate", "cpu"]) == code
    assert message in capsys.readouterr().err


def test_compare_poses_on_known_poses() -> None:
    xy, sc = synth_poses(2, 3)
    a, b = Pose(xy[0], sc[0]), Pose(xy[1], sc[1])
    same = compare_poses(a, a)
    assert same["cosine_distance"] == pytest.approx(0, abs=1e-3)
    assert same["weighted_distance"] == 0
    mirror = compare_poses(a, a.flipped(width=2000.0))["mirrored"]
    assert mirror["cosine_distance"] == pytest.approx(0, abs=1e-3)
    assert mirror["weighted_distance"] == pytest.approx(0, abs=1e-5)
    diff = compare_poses(a, b)
    qv, qc = pose_vector(b)
    rv, _ = pose_vector(a)
    assert diff["weighted_distance"] == pytest.approx(weighted_distance(qv, qc, rv), abs=1e-6)
    assert diff["cosine_distance"] == pytest.approx(float(np.linalg.norm(qv - rv)), abs=1e-5)
