"""The build summary for the curator: upscaled renditions, missing captions, rejected sources with
their reasons (also when nothing is kept), and --max-upscale (MoveNet on real photos)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk.gallery import quality as qa
from kiosk.gallery.builder import BuildError, BuildOptions, build
from kiosk.gallery.verify import problems
from tests.gallery.test_sources import bad_files

KEPT = ["backpackman.jpg", "frisbee.jpg"]  # whole people, cut small from their photos


def photos(shared_dir: Path, dest: Path, names: list[str]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy(shared_dir / "data/posenet-demo-images" / n, dest / n)
    return dest


def test_summary_warns_about_upscaling_and_missing_captions(shared_dir: Path, tmp_path: Path,
                                                            pose_model) -> None:
    folder = photos(shared_dir, tmp_path / "p", KEPT)
    (tmp_path / "meta.csv").write_text("source,title,credit,licence\nbackpackman.jpg,Walk,A. Non,CC0\n")
    s = build([folder], tmp_path / "out", BuildOptions(metadata=(tmp_path / "meta.csv",)),
              model=pose_model, progress=False)
    assert {name for name, f in s.upscaled} == {"p/backpackman.jpg", "p/frisbee.jpg"}
    assert all(f > qa.UPSCALE_WARN for _, f in s.upscaled)
    assert s.uncaptioned == [("p/frisbee.jpg", ["title", "credit", "licence"])]
    text = s.format()
    assert "p/frisbee.jpg: rendition upscaled" in text and "--max-upscale" in text
    assert "p/frisbee.jpg: no title (only the file name), credit, licence" in text
    assert "backpackman.jpg: no" not in text  # its metadata row gives all three
    assert s.to_dict()["warnings"] == s.warnings() and len(s.warnings()) == 3


def test_max_upscale_refuses_small_sources(shared_dir: Path, tmp_path: Path, pose_model) -> None:
    folder = photos(shared_dir, tmp_path / "p", KEPT)
    factors = dict(build([folder], tmp_path / "all", BuildOptions(), model=pose_model,
                         progress=False).upscaled)
    small, big = sorted(factors, key=factors.get)
    limit = (factors[small] + factors[big]) / 2
    s = build([folder], tmp_path / "out", BuildOptions(max_upscale=limit), model=pose_model,
              progress=False)
    assert s.entries == 1 and s.discarded[qa.UPSCALED_TOO_MUCH] == 1
    sources = json.loads((tmp_path / "out/sources.json").read_text())
    refused = [r for r in sources["rejects"] if r["file"] == big]
    assert refused and qa.UPSCALED_TOO_MUCH in refused[0]["reason"]
    assert (tmp_path / "out" / refused[0]["thumbnail"]).is_file()  # a thumbnail in the index
    assert problems(tmp_path / "out", deep=True) == []  # and listed in the manifest
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["build_options"]["max_upscale"] == limit


def test_rejected_sources_and_reasons_when_nothing_is_kept(shared_dir: Path, tmp_path: Path,
                                                          pose_model) -> None:
    folder = tmp_path / "bad"
    reasons = bad_files(folder, shared_dir / "data/posenet-demo-images/looking_at_computer.jpg")
    with pytest.raises(BuildError) as err:
        build([folder], tmp_path / "out", BuildOptions(), model=pose_model, progress=False)
    message = str(err.value)
    assert "no entries kept" in message
    for name, reason in reasons.items():
        assert f"bad/{name}: {reason}" in message
    assert "rejected source  bad/good.jpg: no entry kept (" in message
    assert not (tmp_path / "out").exists()


def test_rejects_are_kept_in_the_index(shared_dir: Path, tmp_path: Path, pose_model) -> None:
    folder = tmp_path / "bad"
    reasons = bad_files(folder, shared_dir / "data/posenet-demo-images/frisbee.jpg")
    photos(shared_dir, folder, ["looking_at_computer.jpg"])
    s = build([folder], tmp_path / "out", BuildOptions(), model=pose_model, progress=False)
    rejects = {r["file"]: r for r in json.loads((tmp_path / "out/sources.json").read_text())["rejects"]}
    assert set(rejects) == {f"bad/{n}" for n in reasons} | {"bad/looking_at_computer.jpg"}
    for n in reasons:
        assert rejects[f"bad/{n}"]["thumbnail"] is None  # nothing to show: the report draws a tile
    assert rejects["bad/looking_at_computer.jpg"]["thumbnail"].startswith("rejects/")
    assert "rejected source  bad/looking_at_computer.jpg: no entry kept" in s.format()
    assert s.to_dict()["rejected_sources"][0]["file"] == "bad/looking_at_computer.jpg"
