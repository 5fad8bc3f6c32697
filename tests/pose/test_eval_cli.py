"""`kiosk eval pose` end to end on real coco-mini images with real models, and `kiosk bench pose`.

The accuracy checks are sanity ranges, not recorded results (the README has the figures).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk.cli.main import main
from kiosk.pose.runtime import available_backends

COCO = "data/coco-mini/person_keypoints_val2017.json"
IMAGES = "data/coco-mini/val2017"
LIMIT = "29"  # the first 29 images (by id) hold 20 scored people


def eval_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict]]:
    code = main(["eval", "pose", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_eval_pose_on_real_images_gives_sane_figures(
    shared_dir: Path, use_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rows = eval_json(capsys, "--coco", str(shared_dir / COCO),
                           "--images", str(shared_dir / IMAGES), "--limit", LIMIT,
                           "--model", "posenet-481x641", "--model", "movenet-lightning",
                           "--delegate", "cpu")
    assert code == 0
    assert [r["model"] for r in rows] == ["posenet-481x641", "movenet-lightning"]
    for r in rows:
        assert r["images"] == 29 and r["people"] == 20 and r["failed_images"] == []
        assert 0.05 < r["AP"] < 0.95, r
        assert r["AP50"] >= r["AP"] >= 0.0 and r["AP50"] >= r["AP75"]
        assert 0.3 < r["PCK@0.2"] <= 1.0, r
        assert len(r["PCK@0.2_per_keypoint"]) == 17
    assert rows[1]["detections"] <= 29  # MoveNet SinglePose: at most one person per image


@pytest.mark.slow
def test_eval_pose_table_and_an_unreadable_image(
    shared_dir: Path, use_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((shared_dir / COCO).read_text())
    keep = sorted(im["id"] for im in data["images"])[:3]
    data["images"] = [im for im in data["images"] if im["id"] in keep]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    (tmp_path / "ann.json").write_text(json.dumps(data))
    images = tmp_path / "images"
    images.mkdir()
    names = sorted(im["file_name"] for im in data["images"])
    for name in names[:2]:
        shutil.copy(shared_dir / IMAGES / name, images / name)
    (images / names[2]).write_bytes(b"not a jpeg")
    code = main(["eval", "pose", "--coco", str(tmp_path / "ann.json"), "--images", str(images),
                 "--model", "posenet-353x481", "--delegate", "cpu"])
    out, err = capsys.readouterr()
    assert code == 1  # one image could not be read; the others are still scored
    assert names[2] in err and len(err.strip().splitlines()) == 1
    assert "| posenet-353x481 " in out and "PCK@0.2" in out


IMAGE = {"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}


@pytest.mark.parametrize(("text", "words"), [
    ("{", ["Expecting"]),
    ("[1, 2]", ["a JSON list, not an object"]),
    ('{"annotations": []}', ["no 'images'"]),
    ('{"images": [{"id": 1}]}', ["no 'file_name'"]),
    ('{"images": [1]}', []),
    (json.dumps({"images": [IMAGE], "annotations": [{"image_id": 1, "keypoints": [1, 2]}]}), []),
    (json.dumps({"images": [IMAGE], "annotations": "none"}), []),
])
def test_eval_pose_bad_annotations(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                   words: list[str]) -> None:
    (tmp_path / "bad.json").write_text(text)
    assert main(["eval", "pose", "--coco", str(tmp_path / "bad.json"),
                 "--images", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'bad.json'}: not COCO person keypoint annotations (")
    assert len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err


@pytest.mark.slow
def test_bench_pose_reports_every_stage(
    use_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "pose", "--model", "posenet-353x481", "--runs", "2", "--warmup", "1",
                 "--decoder-runs", "3", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["errors"]
    assert report["models"] and all(r["model"] == "posenet-353x481" for r in report["models"])
    # every installed backend, side by side, each really used (LiteRT and, on numpy<2, tflite)
    assert [r["backend"] for r in report["models"]] == available_backends()
    for r in report["models"]:
        for stage in ("preprocess", "invoke", "decode", "total"):
            assert r[stage]["median"] >= 0 and r[stage]["p95"] >= r[stage]["median"] - 1e-9
    stages = {d["stage"] for d in report["decoders"]}
    assert stages == {"multi-pose decode", "single-pose decode", "preprocess"}
