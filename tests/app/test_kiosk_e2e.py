"""The whole kiosk, headless, on real data: the squats recording replayed through MoveNet, an
index, the matcher, the renderer and SDL's dummy display.

- every frame has the person, so every frame yields a main pose;
- with an index that holds the recording's own frames (and the PoseNet photos), the shown photo
  follows the squat down and up (depth from the recording's reference keypoints compared with the
  shown photo's own keypoints);
- with the demo index (other people only), every shown photo is someone else's;
- each screenshot's photo half is the matched rendition, pixel for pixel;
- no stage error (nor any warning) is logged.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from kiosk.app.devices.camera.source import EndOfStream, open_camera
from kiosk.app.devices.display.base import open_display
from kiosk.app.loop import FrameReport, MirrorLoop
from kiosk.app.service.config import parse_config

RECORDING = "data/recordings/pose_squats.mp4"
REFERENCE = "data/recordings/pose_squats.full.json"
#: BlazePose indices of hips, knees, ankles (COCO-17 11/12, 13/14, 15/16).
BP_HIPS, BP_KNEES, BP_ANKLES = [23, 24], [25, 26], [27, 28]


def depth(xy: np.ndarray, hips, knees, ankles) -> float:
    """(knee - hip) / (ankle - knee) in y: about 1.1 standing, 0.25 at the bottom of a squat."""
    hip, knee, ankle = (float(np.mean(xy[i, 1])) for i in (hips, knees, ankles))
    return (knee - hip) / max(ankle - knee, 1e-6)


@pytest.fixture(scope="module")
def squats_index(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PoseNet photos and the recording itself (5 fps, mirrored): the squat's own frames."""
    from kiosk.gallery.builder import BuildOptions, build

    out = tmp_path_factory.mktemp("squats") / "index"
    build([shared_dir / "data/posenet-demo-images", shared_dir / RECORDING], out,
          BuildOptions(fps=5.0, mirror=True, models_dir=models_dir), progress=False)
    return out


@pytest.fixture(scope="module")
def demo_index(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kiosk.gallery.demo import ensure_demo_index

    root = tmp_path_factory.mktemp("demo")
    old = os.environ.get("KIOSK_CACHE_DIR")
    os.environ["KIOSK_CACHE_DIR"] = str(root / "cache")
    try:
        return ensure_demo_index(root / "demo-index", models_dir=models_dir)
    finally:
        if old is None:
            os.environ.pop("KIOSK_CACHE_DIR", None)
        else:
            os.environ["KIOSK_CACHE_DIR"] = old


def run_squats(shared_dir: Path, models_dir: Path, index_dir: Path,
               shots: Path) -> tuple[list[FrameReport], Any]:
    """Every frame of the recording through the kiosk loop; (reports, the opened index)."""
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.pose.engine import load_pose_model

    config = parse_config({
        "camera": {"source": f"replay:{shared_dir / RECORDING}",
                   "replay_realtime": False, "replay_loop": False},
        "display": {"crossfade_ms": 0},  # every change frame shows the new photo in full
    })
    index = GalleryIndex.open(index_dir)
    model = load_pose_model("movenet-lightning", delegate="cpu", models_dir=models_dir)
    display = open_display(config.display, headless=True)
    camera = open_camera(config.camera.source, config.camera)
    loop = MirrorLoop(config, camera, model, index, display, screenshots=shots)
    reports: list[FrameReport] = []
    try:
        with pytest.raises(EndOfStream):
            while True:
                reports.append(loop.step())
    finally:
        loop.close()
        display.close()
    assert loop.stage_errors == {}
    return reports, index


def check_screens(reports: list[FrameReport], index: Any, shots: Path) -> list[FrameReport]:
    """The screenshots hold the matched renditions' pixels (the photo half, above the caption);
    returns the reports of the frames where the photo changed."""
    changes = [r for r in reports if r.changed and r.shown_entry is not None]
    names = sorted(p.name for p in shots.iterdir())
    assert "last.png" in names
    expected = {f"frame{r.frame:05d}_entry{r.shown_entry}.png": r.shown_entry for r in changes}
    assert set(expected) <= set(names)
    w, h = index.display_size
    assert (w, h) == (960, 1080)
    for name, entry in expected.items():
        screen = np.asarray(Image.open(shots / name).convert("RGB")).astype(np.int16)
        rendition = np.asarray(Image.open(index.rendition_path(entry)).convert("RGB")).astype(np.int16)
        region = screen[: h - 150, 960:1920]  # the caption band covers the bottom
        assert np.abs(region - rendition[: h - 150]).max() <= 1, name
    return changes


@pytest.mark.slow
def test_squats_through_the_whole_kiosk(shared_dir: Path, models_dir: Path, squats_index: Path,
                                        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    reports, index = run_squats(shared_dir, models_dir, squats_index, tmp_path / "shots")

    # every frame of the recording went through, and each yields the visitor's pose
    assert [r.frame for r in reports] == list(range(1, 66))
    assert all(r.poses >= 1 and r.main_pose is not None for r in reports)
    assert all(r.state in ("running", "searching") for r in reports)
    assert sum(r.state == "running" for r in reports) >= 55  # only the first photo's load waits

    # the shown photo follows the squat: visitor depth (reference keypoints) vs the photo's depth
    ref = np.asarray(json.loads((shared_dir / REFERENCE).read_text()))
    visitor, photo = [], []
    for r in reports:
        if r.shown_entry is None:
            continue
        visitor.append(depth(ref[r.frame - 1], BP_HIPS, BP_KNEES, BP_ANKLES))
        photo.append(depth(index.entry(r.shown_entry).keypoints.xy, [11, 12], [13, 14], [15, 16]))
    visitor_d, photo_d = np.array(visitor), np.array(photo)
    assert np.corrcoef(visitor_d, photo_d)[0, 1] > 0.8
    # (a frame or two of lag is hysteresis at work)
    assert np.mean(photo_d[visitor_d < 0.4] < 0.7) >= 0.8  # at the bottom of a squat: a squatting photo
    assert np.mean(photo_d[visitor_d > 1.0] > 0.7) >= 0.8  # standing: a standing photo
    assert len(check_screens(reports, index, tmp_path / "shots")) >= 6

    # nothing went wrong on the way
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("kiosk.app")]
    assert not bad, [r.getMessage() for r in bad]


@pytest.mark.slow
def test_the_demo_answers_the_squats_with_other_people(shared_dir: Path, models_dir: Path,
                                                        demo_index: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    reports, index = run_squats(shared_dir, models_dir, demo_index, tmp_path / "shots")
    shown = {r.shown_entry for r in reports if r.shown_entry is not None}
    sources = {index.entry(e).source for e in shown}
    assert len(sources) >= 3 and not any("pose_squats" in s for s in sources)
    assert all(index.entry(e).licence and index.entry(e).credit for e in shown)
    assert len(check_screens(reports, index, tmp_path / "shots")) >= 3
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("kiosk.app")]
    assert not bad, [r.getMessage() for r in bad]
