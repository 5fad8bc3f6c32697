"""`kiosk index report` and the threshold the curator tools mark (one function: the kiosk config's)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.app.service.threshold import match_threshold
from kiosk.cli.main import main


@pytest.fixture(scope="module")
def small_index(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-cli")
    (root / "photos").mkdir()
    for n in ("backpackman.jpg", "frisbee.jpg", "frisbee_2.jpg"):
        shutil.copy(shared_dir / "data/posenet-demo-images" / n, root / "photos" / n)
    assert main(["index", "build", str(root / "photos"), "-o", str(root / "index"), "--model",
                 "movenet-lightning", "--models-dir", str(models_dir), "--no-cache", "--quiet"]) == 0
    return root / "index"


def test_threshold_comes_from_the_kiosk_config(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("match: {max_distance: 0.21}\nindex: {metric: weighted}\n")
    t = match_threshold(tmp_path / "k.yaml")
    assert (t.metric, t.max_distance, t.source) == ("weighted", 0.21, str(tmp_path / "k.yaml"))
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import load_config

    assert match_threshold().max_distance == load_config(default_config_path()).match.max_distance


def test_report_marks_the_config_threshold(small_index: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "k.yaml").write_text("match: {max_distance: 0.123}\n")
    out = tmp_path / "r.html"
    assert main(["index", "report", str(small_index), "-o", str(out), "--config", str(tmp_path / "k.yaml"),
                 "--reference", "synth"]) == 0
    from kiosk.gallery.calibrate import kiosk_threshold
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.match.metrics import DEFAULT_METRIC

    # match.max_distance is calibrated: the report marks the index's raw distance for it
    raw = kiosk_threshold(GalleryIndex.open(small_index), DEFAULT_METRIC, 0.123, 0.2).raw_max_distance()
    page = out.read_text()
    assert f"{raw:.3f}" in page and 'id="holes"' in page
    assert f"threshold {raw:.3f} for a whole body, {DEFAULT_METRIC}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "/nonexistent/k.yaml"], "cannot read"),
        (["--reference", "mirror", "--mirror", "/nonexistent"], "cannot read"),
        (["--threshold", "nan"], "give a match distance > 0"),
    ],
)
def test_report_errors_say_what_to_do(small_index: Path, tmp_path: Path, args, message, capsys) -> None:
    assert main(["index", "report", str(small_index), "-o", str(tmp_path / "r.html"), *args]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "r.html").exists()


def test_report_of_a_missing_index(tmp_path: Path, capsys) -> None:
    assert main(["index", "report", str(tmp_path / "nope"), "-o", str(tmp_path / "r.html")]) == 1
    assert "kiosk index report:" in capsys.readouterr().err


def test_png_tools_mark_the_threshold(small_index: Path, shared_dir: Path, models_dir: Path,
                                      tmp_path: Path) -> None:
    img = shared_dir / "data/posenet-demo-images/frisbee.jpg"
    sheets = {}
    for thr in ("0.0001", "5"):
        sheets[thr] = tmp_path / f"sheet-{thr}.png"
        assert main(["index", "inspect", str(small_index), "--query", str(img), "--k", "2", "--out",
                     str(sheets[thr]), "--models-dir", str(models_dir), "--threshold", thr]) == 0

    def red_frames(p: Path) -> int:
        rgb = np.asarray(Image.open(p).convert("RGB")).astype(int)
        return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 90) & (rgb[..., 2] < 80)).sum())

    # the same photo is its own match at distance ~0: beyond 0.0001 only the second one is framed red
    assert red_frames(sheets["0.0001"]) > red_frames(sheets["5"]) + 1000
    cmap = tmp_path / "map.png"
    assert main(["index", "inspect", str(small_index), "--coverage", "--out", str(cmap),
                 "--threshold", "0.35"]) == 0
    with Image.open(cmap) as im:
        assert im.width > 900 and im.height > 800
