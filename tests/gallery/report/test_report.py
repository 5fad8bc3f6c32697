"""`kiosk index report` opened in a real headless Chromium: the demo gallery and a gallery built
from a folder with broken files. Screenshots are saved under the test's tmp dir (screenshots/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.cli.main import main
from kiosk.gallery.report import network_references
from tests.gallery.report.chromium import Dom, open_in_chromium
from tests.gallery.test_sources import bad_files

PHOTOS = ["backpackman.jpg", "tennis_standing.jpg", "skiing.jpg"]


@pytest.fixture(scope="module")
def broken_index(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real photos (one whose person is filtered out) and a corrupt JPEG, an empty file, a text
    file named .png and a .txt."""
    root = tmp_path_factory.mktemp("broken")
    folder = root / "photos"
    bad_files(folder, shared_dir / "data/posenet-demo-images/frisbee.jpg")
    for n in PHOTOS:
        (folder / n).write_bytes((shared_dir / "data/posenet-demo-images" / n).read_bytes())
    (folder / "readme.txt").write_text("notes\n")
    assert main(["index", "build", str(folder), "-o", str(root / "index"), "--model", "movenet-lightning",
                 "--models-dir", str(models_dir), "--no-cache", "--quiet"]) == 0
    return root / "index"


@pytest.fixture(scope="module")
def demo_index(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kiosk.gallery.demo import ensure_demo_index

    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIOSK_CACHE_DIR", str(root / "cache"))
        return ensure_demo_index(root / "demo-index", models_dir=models_dir, model="movenet-lightning")


def squat_frame(shared_dir: Path, dest: Path, t: float = 6.0) -> Path:
    """A frame of the squats recording as a query photo (a visitor in mid-squat)."""
    from kiosk.gallery.sources import iter_video_frames

    for ft, rgb in iter_video_frames(shared_dir / "data/recordings/pose_squats.mp4", 1.0):
        if ft >= t:
            Image.fromarray(rgb).save(dest)
            return dest
    raise AssertionError("recording too short")


def _report(index: Path, out: Path, models_dir: Path, *extra: str) -> str:
    assert main(["index", "report", str(index), "-o", str(out), "--models-dir", str(models_dir),
                 *extra]) == 0
    page = out.read_text()
    assert network_references(page) == []
    assert not re.search(r"(?:https?:)?//[^\s\"'<>]+\.(?:css|js|woff2?|png|jpe?g|svg)\b", page)
    return page


def _sections(dom: Dom) -> dict[str, int]:
    return {s["id"]: int(s["data-count"]) for s in dom.find("section", id="*", data_count="*")}


def _screenshot_is_a_page(shot: Path) -> None:
    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape[1] == 1280 and rgb.shape[0] >= 2000
    assert len(np.unique(rgb.reshape(-1, 3)[::97], axis=0)) > 200  # photos, figures and text


def test_report_of_a_gallery_with_broken_files(broken_index: Path, shared_dir: Path, models_dir: Path,
                                               tmp_path: Path) -> None:
    queries = [shared_dir / "data/posenet-demo-images/tennis.jpg", broken_index.parent / "photos/notes.png"]
    page = tmp_path / "report.html"
    _report(broken_index, page, models_dir, "--query", *map(str, queries), "--threshold", "0.3",
            "--reference", "synth")
    shown = open_in_chromium(page, tmp_path / "screenshots", "broken")
    dom = Dom(shown.dom)
    sections = _sections(dom)
    assert set(sections) == {"summary", "rejects", "warnings", "sheets", "coverage", "holes"}
    text = dom.all_text
    # summary: rejects by reason, with the unreadable files' reasons
    for reason in ("corrupt or truncated image", "empty file", "not a readable image",
                   "unsupported file type '.txt'"):
        assert reason in text
    # rejects: every bad file, and the photo whose person was filtered out, each with its reason
    assert len(dom.find("figure", class_="reject")) == sections["rejects"] >= 5
    for name in ("corrupt.jpg", "empty.jpg", "notes.png", "readme.txt"):
        assert f"photos/{name}" in text
    # each with a picture: the "no picture" tile for the unreadable ones, a thumbnail for the others
    assert len(dom.find("svg", class_="ph")) == 4 + 1  # and the unreadable query photo
    assert len(dom.find("img", class_="thumb")) == sections["rejects"] - 4
    # warnings: every kept source lacks credit and licence (no metadata given)
    sources = json.loads((broken_index / "sources.json").read_text())["sources"]
    kept = [s for s in sources if s["entries"]]
    caption = dom.find("div", class_="warn", data_kind="caption")[0]
    assert int(caption["data-count"]) == len(kept) > 0
    # contact sheets: distances and the threshold marked
    assert sections["sheets"] == 2
    matches = dom.find("figure", class_="match")
    assert matches and all("data-distance" in m for m in matches)
    beyond = [m for m in matches if float(m["data-distance"]) > 0.3]
    assert len(dom.find("figure", class_="beyond")) == len(beyond)
    assert "threshold 0.300" in text and "not a readable image" in text
    # coverage and holes: stick figures with counts
    assert sections["coverage"] == len(dom.find("div", class_="cluster")) > 0
    assert len(dom.find("div", class_="hole")) == sections["holes"]
    assert "synthesized by kiosk.match.synth" in text
    _screenshot_is_a_page(shown.screenshot)


def test_report_of_the_demo_gallery(demo_index: Path, shared_dir: Path, models_dir: Path,
                                    tmp_path: Path) -> None:
    query = squat_frame(shared_dir, tmp_path / "squat.png")
    page = tmp_path / "demo-report.html"
    _report(demo_index, page, models_dir, "--query", str(query), "--k", "5", "--reference", "mirror",
            "--mirror", str(shared_dir))
    shown = open_in_chromium(page, tmp_path / "screenshots", "demo", height=9000)
    dom = Dom(shown.dom)
    sections = _sections(dom)
    text = dom.all_text
    index = json.loads((demo_index / "manifest.json").read_text())
    assert sections["summary"] == index["counts"]["entries"] > 20
    # the COCO photos without a suitable person are rejected sources, with thumbnails
    assert sections["rejects"] > 0 and len(dom.find("figure", class_="reject")) == sections["rejects"]
    assert "no entry kept" in text
    # every demo source carries title, credit and licence from its metadata
    assert dom.find("div", class_="warn", data_kind="caption")[0]["data-count"] == "0"
    assert int(dom.find("div", class_="warn", data_kind="upscale")[0]["data-count"]) > 0
    # the contact sheet: the squat answered by other people, distances and the threshold
    matches = dom.find("figure", class_="match")
    assert len(matches) == 5
    assert not any("pose_squats" in m["data-source"] for m in matches)  # other people answer
    assert re.search(r"threshold \d\.\d{3}", text)
    # holes, from the reference poses derived from the mirror's recording and COCO ground truth
    assert "pose_squats.full.json" in text and "COCO ground-truth people" in text
    assert sections["coverage"] > 0
    assert len(dom.find("div", class_="hole")) == sections["holes"]
    _screenshot_is_a_page(shown.screenshot)


def test_network_references_are_found() -> None:
    page = ('<img src="http://example.org/a.png"><a href="https://x.org">x</a>'
            '<div style="background:url(//cdn/x.png)"></div><script src="a.js"></script>'
            '<img src="data:image/png;base64,AAAA"><a href="#holes">ok</a>')
    found = network_references(page)
    assert len(found) == 5 and not any("data:" in f or "#holes" in f for f in found)
