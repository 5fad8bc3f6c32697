"""`kiosk index build|verify|inspect|query` end to end on real photos (MoveNet)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from kiosk.cli.main import main

PHOTOS = ["backpackman.jpg", "frisbee.jpg", "frisbee_2.jpg", "tennis_in_crowd.jpg", "looking_at_computer.jpg"]


@pytest.fixture(scope="module")
def cli_index(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    photos = root / "photos"
    photos.mkdir()
    for n in PHOTOS:
        shutil.copy(shared_dir / "data/posenet-demo-images" / n, photos / n)
    (root / "meta.csv").write_text("source,title,credit,licence,link\nbackpackman.jpg,Walk,A. Non,CC0,\n")
    rc = main([
        "index", "build", str(photos), str(shared_dir / "data/recordings/pose_squats.mp4"),
        "-o", str(root / "index"), "--model", "movenet-lightning", "--models-dir", str(models_dir),
        "--metadata", str(root / "meta.csv"), "--cache-dir", str(root / "cache"), "--quiet",
    ])
    assert rc == 0
    return root / "index"


def test_build_prints_summary_json(cli_index: Path, shared_dir, models_dir, tmp_path, capsys) -> None:
    rc = main(["index", "build", str(shared_dir / "data/posenet-demo-images/frisbee.jpg"),
               "-o", str(tmp_path / "i"), "--model", "movenet-lightning", "--models-dir",
               str(models_dir), "--no-cache", "--json", "--display-size", "480x540"])
    out = capsys.readouterr()
    assert rc == 0
    summary = json.loads(out.out)
    assert summary["entries"] == 1 and summary["sources_read"] == 1 and summary["frames_seen"] == 1
    assert "entries kept" in out.err and "sources read" in out.err
    with Image.open(tmp_path / "i/renditions/000000.jpg") as im:
        assert im.size == (480, 540)


def test_verify_ok_then_precise_failure(cli_index: Path, tmp_path: Path, capsys) -> None:
    assert main(["index", "verify", str(cli_index)]) == 0
    assert capsys.readouterr().out.startswith("OK: index ")
    copy = tmp_path / "index"
    shutil.copytree(cli_index, copy)
    data = bytearray((copy / "entries.json").read_bytes())
    data[10] ^= 0x01
    (copy / "entries.json").write_bytes(bytes(data))
    assert main(["index", "verify", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "entries.json: sha256 mismatch" in err and "FAIL: 1 problem(s)" in err


def test_inspect_json(cli_index: Path, capsys) -> None:
    assert main(["index", "inspect", str(cli_index), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == 2 and info["display_size"] == [960, 1080]
    assert info["counts"]["sources_read"] == len(PHOTOS) + 1
    assert info["counts"]["discarded"]["not full body"] >= 1  # looking_at_computer.jpg
    assert info["files"]["count"] == len(list(p for p in cli_index.rglob("*") if p.is_file())) - 1


def test_query_json_finds_the_photo_itself(cli_index: Path, shared_dir: Path, models_dir, capsys) -> None:
    images = [shared_dir / "data/posenet-demo-images" / n for n in ("backpackman.jpg", "frisbee.jpg")]
    rc = main(["index", "query", str(cli_index), *map(str, images), "--k", "2", "--json",
               "--models-dir", str(models_dir)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["image"] for o in out] == [str(p) for p in images]
    for o, image in zip(out, images, strict=True):
        assert len(o["matches"]) == 2
        first = o["matches"][0]
        assert set(first) >= {"entry_id", "source", "frame_time", "distance"}
        assert first["source"] == f"photos/{image.name}" and first["frame_time"] is None
        assert first["distance"] <= o["matches"][1]["distance"]
    assert out[0]["matches"][0]["title"] == "Walk"  # from the metadata sidecar
    # the kiosk's answer: the photo itself is within its threshold, so it is shown
    assert all(o["shown"] == o["matches"][0]["entry_id"] and o["matches"][0]["distance"] <= o["threshold"]
               and isinstance(o["seen"], str) for o in out)


@pytest.mark.parametrize(("threshold", "answer"), [("1e-9", '"No good match"'), ("100", "shows #")])
def test_query_text_ends_with_the_kiosks_answer(cli_index: Path, shared_dir: Path, models_dir,
                                                capsys, threshold: str, answer: str) -> None:
    photo = shared_dir / "data/posenet-demo-images/frisbee.jpg"
    assert main(["index", "query", str(cli_index), str(photo), "--k", "2", "--threshold", threshold,
                 "--models-dir", str(models_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(photo) and len(lines) == 4
    assert lines[-1].startswith(f"  kiosk: {answer}") and "seen: " in lines[-1]


def test_query_text_and_no_person(cli_index: Path, tmp_path: Path, models_dir, capsys) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64)).save(blank)
    args = ["index", "query", str(cli_index), str(blank), "--json", "--models-dir", str(models_dir)]
    assert main(args) == 0
    (o,) = json.loads(capsys.readouterr().out)
    assert o["matches"] == [] and o["error"].startswith("no person found")


HOSTILE_NAME = "new\nline \x1b[2J\u202egpj.jpg"  # a newline, a terminal escape, a right-to-left override
SHOWN = r"new\nline \x1b[2J\u202egpj.jpg"  # as printed: one line, nothing repainted


def test_query_and_verify_show_hostile_names_on_their_line(cli_index: Path, shared_dir: Path,
                                                           tmp_path: Path, models_dir, capsys) -> None:
    photo = tmp_path / HOSTILE_NAME
    shutil.copy(shared_dir / "data/posenet-demo-images/backpackman.jpg", photo)
    missing = tmp_path / f"gone {HOSTILE_NAME}"
    rc = main(["index", "query", str(cli_index), str(photo), str(missing), "--k", "1",
               "--models-dir", str(models_dir)])
    out = capsys.readouterr()
    assert rc == 1  # the missing one
    assert out.out.splitlines()[0] == f"{tmp_path}/{SHOWN}" and out.out.isascii()
    assert out.err.splitlines()[-1] == f"kiosk index query: {tmp_path}/gone {SHOWN}: no such file"
    copy = tmp_path / "index"
    shutil.copytree(cli_index, copy)
    (copy / "renditions" / HOSTILE_NAME).write_bytes(b"")
    assert main(["index", "verify", str(copy)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{copy}: renditions/{SHOWN}: file not listed in the manifest"
    assert err[1].startswith("FAIL: 1 problem(s)") and len(err) == 2


def test_inspect_sheet_and_coverage(cli_index: Path, shared_dir: Path, tmp_path: Path, models_dir) -> None:
    img = shared_dir / "data/posenet-demo-images/skiing.jpg"
    sheet, cmap = tmp_path / "sheet.png", tmp_path / "map.png"
    assert main(["index", "inspect", str(cli_index), "--query", str(img), "--out", str(sheet),
                 "--k", "2", "--models-dir", str(models_dir)]) == 0
    assert main(["index", "inspect", str(cli_index), "--coverage", "--out", str(cmap)]) == 0
    with Image.open(sheet) as im:
        assert im.width > 3 * 200 and im.height > 200
    with Image.open(cmap) as im:
        assert im.width > 720 and im.height > 720  # the plot, its axes and the legend


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--display-size", "big"], "display size"),
        (["--workers", "0"], "--workers"),
        (["--skip-still", "-1"], "--skip-still"),
        (["--chunk-frames", "0"], "--chunk-frames"),
        (["--address", "127.0.0.1:6379"], "--address needs --engine ray"),
    ],
)
def test_build_usage_errors(shared_dir: Path, tmp_path: Path, args, message, capsys) -> None:
    rc = main(["index", "build", str(shared_dir / "data/coral"), "-o", str(tmp_path / "o"), *args])
    assert rc == 2 and message in capsys.readouterr().err


def test_build_engine_ray_without_ray_names_the_extra(shared_dir, models_dir, tmp_path, monkeypatch,
                                                      capsys) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without the cluster extra
    rc = main(["index", "build", str(shared_dir / "data/posenet-demo-images/frisbee.jpg"), "-o",
               str(tmp_path / "o"), "--model", "movenet-lightning", "--models-dir", str(models_dir),
               "--engine", "ray", "--quiet"])
    assert rc == 2 and "pip install '.[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_build_missing_source(tmp_path: Path, capsys) -> None:
    assert main(["index", "build", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_open_broken_index_is_exit_1(tmp_path: Path, capsys) -> None:
    assert main(["index", "inspect", str(tmp_path)]) == 1
    assert "manifest.json: missing" in capsys.readouterr().err


def test_build_progress_bar_on_stderr(shared_dir: Path, models_dir: Path, tmp_path: Path, capsys) -> None:
    photos = shared_dir / "data/posenet-demo-images"
    rc = main(["index", "build", str(photos / "frisbee.jpg"), str(photos / "frisbee_2.jpg"),
               "-o", str(tmp_path / "i"), "--model", "movenet-lightning", "--models-dir",
               str(models_dir), "--no-cache"])
    out = capsys.readouterr()
    assert rc == 0 and out.out == ""
    assert "building [" in out.err and "2/2 sources, 2 frames" in out.err


def test_verify_missing_dir(tmp_path: Path, capsys) -> None:
    assert main(["index", "verify", str(tmp_path / "nope")]) == 1
    assert "not a directory" in capsys.readouterr().err
