"""`kiosk pose` and `kiosk models` end to end on real photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk.assets.manifest import load_manifest
from kiosk.cli.main import main
from kiosk.pose.images import load_image


def test_pose_json_on_real_photos(
    use_models_dir: Path, shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = shared_dir / "data/posenet-demo-images"
    images = [str(shared_dir / "data/coral/test_couple.jpg"), str(demo / "tennis_standing.jpg"),
              str(demo / "soccer.png")]  # fmt: skip
    code = main(["pose", *images, "--json", "--delegate", "cpu", "--draw", str(tmp_path / "d")])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out)
    assert [d["image"] for d in doc] == images
    couple = doc[0]
    assert (couple["width"], couple["height"]) == (1920, 1278)
    assert len(couple["poses"]) == 2
    for d in doc:
        assert d["poses"], d["image"]
        for p in d["poses"]:
            assert [k["name"] for k in p["keypoints"]][:3] == ["nose", "left_eye", "right_eye"]
            assert len(p["keypoints"]) == 17
            assert all(0 <= k["x"] <= d["width"] and 0 <= k["y"] <= d["height"] for k in p["keypoints"])
    drawn = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert drawn == ["soccer.pose.png", "tennis_standing.pose.png", "test_couple.pose.png"]
    assert load_image(tmp_path / "d" / "test_couple.pose.png").shape[:2] == (1278, 1920)


def test_pose_bad_image_reports_and_continues(
    use_models_dir: Path, shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    good = str(shared_dir / "data/coral/test_couple.jpg")
    code = main(["pose", str(bad), good, "--json", "--model", "movenet-lightning", "--delegate", "cpu"])
    captured = capsys.readouterr()
    assert code != 0
    doc = json.loads(captured.out)
    assert [d["image"] for d in doc] == [good]
    errors = [line for line in captured.err.splitlines() if "broken.jpg" in line]
    assert len(errors) == 1 and "not a recognised image format" in errors[0]


def test_pose_missing_model_says_fetch(tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("KIOSK_MODELS_DIR", str(tmp_path))
    code = main(["pose", str(shared_dir / "data/coral/test_couple.jpg"), "--delegate", "cpu"])
    assert code != 0
    assert "kiosk models fetch posenet-481x641" in capsys.readouterr().err


def test_models_fetch_list_strip_info(
    shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "m"
    assert main(["models", "fetch", "--mirror", str(shared_dir), "--dest", str(dest), "posenet-353x481"]) == 0
    names = sorted(p.name for p in dest.glob("*.tflite"))
    entries = load_manifest().variants("posenet-353x481").values()
    assert names == sorted([e.file for e in entries] + [e.derived for e in entries])
    assert main(["models", "list", "--dest", str(dest)]) == 0
    listing = capsys.readouterr().out
    assert "posenet-353x481 " in listing and "fetched: cpu,edgetpu" in listing
    src = dest / load_manifest().get("posenet-353x481").file
    out = tmp_path / "s.tflite"
    assert main(["models", "strip-decoder", str(src), str(out)]) == 0
    assert main(["models", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "custom ops: none" in info and "concat [1, 23, 31, 64]" in info
    assert main(["models", "fetch", "--mirror", str(shared_dir), "--dest", str(dest), "nope"]) == 1
    shutil.rmtree(dest)


def test_pose_summary_and_coral_preprocessing(
    use_models_dir: Path, shared_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = str(shared_dir / "data/coral/test_couple.jpg")
    assert main(["pose", image, "--delegate", "cpu", "--preprocess", "coral"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{image}: 1920x1278, 2 pose(s)"
    assert out[1].startswith("  #0 score 0.89") and "keypoints >= 0.2" in out[1]
