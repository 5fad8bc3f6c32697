"""The whole kiosk, headless, on real data: the squats recording replayed through MoveNet (in the
pose worker), an index, the matcher, the renderer (crossfades on) and SDL's dummy display.

- every recorded frame is estimated once and yields the visitor's pose;
- with an index that holds the recording's own frames (and the PoseNet photos), the photo on
  screen follows the squat down and up (depth from the recording's reference keypoints of the
  frame each shown decision came from, compared with the shown photo's own keypoints);
- with the demo index (other people only), every shown photo is someone else's;
- every screenshot named after an entry shows that entry's rendition, pixel for pixel, outside
  the caption band; a crossfade cut short is saved under a name that says so;
- the live view of the portrait recording keeps the visitor's head and ankles inside it, on a
  landscape screen, a portrait (rotated) screen and the full-mirror inset;
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
from kiosk.app.screen.layout import CoverMap, Rect, cover
from kiosk.app.screen.screenshots import FADING_SUFFIX
from kiosk.app.service.config import parse_config
from tests.app.kiosk_fakes import FrameClock

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


def run_squats(shared_dir: Path, models_dir: Path, index_dir: Path, shots: Path | None,
               **display: Any) -> tuple[MirrorLoop, list[FrameReport], list[CoverMap | None], Any]:
    """Every frame of the recording through the kiosk loop (threaded, the display uncapped on a
    clock of 1/60 s a frame); (loop, reports, the live view of each frame, the opened index)."""
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.pose.engine import load_pose_model

    config = parse_config({
        "camera": {"source": f"replay:{shared_dir / RECORDING}",
                   "replay_realtime": False, "replay_loop": False},
        "display": {"crossfade_ms": 100, "max_fps": 0, **display},
    })
    index = GalleryIndex.open(index_dir)
    model = load_pose_model("movenet-lightning", delegate="cpu", models_dir=models_dir)
    disp = open_display(config.display, headless=True)
    camera = open_camera(config.camera.source, config.camera)
    loop = MirrorLoop(config, camera, model, index, disp, screenshots=shots, clock=FrameClock())
    reports: list[FrameReport] = []
    views: list[CoverMap | None] = []
    loop.start()
    try:
        with pytest.raises(EndOfStream):
            while True:
                reports.append(loop.step())
                views.append(loop.renderer.view)
    finally:
        loop.close()
        disp.close()
    assert loop.stage_errors == {}
    assert loop.worker.estimated == 65  # every frame of the recording, once
    return loop, reports, views, index


def check_screens(reports: list[FrameReport], index: Any, shots: Path, clean: int) -> list[FrameReport]:
    """Every change was saved; the screenshots named after an entry (not a cut-short fade) hold
    that entry's rendition (the photo half, above the caption), at least `clean` of them; returns
    the reports of the frames where the photo changed."""
    changes = [r for r in reports if r.changed and r.shown_entry is not None]
    names = sorted(p.name for p in shots.iterdir())
    assert "last.png" in names
    saved = {n.removesuffix(".png").removesuffix(FADING_SUFFIX): n for n in names if n != "last.png"}
    expected = {f"frame{r.frame:05d}_entry{r.shown_entry}": r.shown_entry for r in changes}
    assert set(expected) <= set(saved)  # no change skipped
    settled = {stem: e for stem, e in expected.items() if FADING_SUFFIX not in saved[stem]}
    assert len(settled) >= clean, names
    w, h = index.display_size
    assert (w, h) == (960, 1080)
    for stem, entry in settled.items():
        screen = np.asarray(Image.open(shots / saved[stem]).convert("RGB")).astype(np.int16)
        rendition = np.asarray(Image.open(index.rendition_path(entry)).convert("RGB")).astype(np.int16)
        region = screen[: h - 150, 960:1920]  # the caption band covers the bottom
        assert np.abs(region - rendition[: h - 150]).max() <= 1, saved[stem]
    assert any(r.fading for r in reports)  # crossfades ran, and the reports said so
    return changes


@pytest.mark.slow
def test_squats_through_the_whole_kiosk(shared_dir: Path, models_dir: Path, squats_index: Path,
                                        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    _, reports, _, index = run_squats(shared_dir, models_dir, squats_index, tmp_path / "shots")

    # each estimated frame yields the visitor's pose
    last_for: dict[int, FrameReport] = {}  # per estimated frame: the last displayed frame it drove
    for r in reports:
        if r.perception is not None:
            last_for[r.perception.seq] = r
    assert len(last_for) >= 40  # the display shows most of them (it may skip one while busy)
    # ...once the person filter has seen a person for pose.person_frames frames in a row
    confirm = parse_config({}).pose.person_frames
    missing = sorted(s for s, r in last_for.items()
                     if r.perception.poses < 1 or r.perception.main is None)  # type: ignore[union-attr]
    assert all(s < confirm for s in missing), missing
    assert all(r.state in ("running", "searching") for r in reports)
    first = next(i for i, r in enumerate(reports) if r.state == "running")  # the first photo is loaded
    assert sum(r.state == "running" for r in reports[first:]) >= 0.8 * len(reports[first:])

    # the shown photo follows the squat: visitor depth (reference keypoints) vs the photo's depth
    ref = np.asarray(json.loads((shared_dir / REFERENCE).read_text()))
    visitor, photo = [], []
    for r in last_for.values():
        if r.shown_entry is None or r.perception is None:
            continue
        visitor.append(depth(ref[r.perception.camera_seq - 1], BP_HIPS, BP_KNEES, BP_ANKLES))
        photo.append(depth(index.entry(r.shown_entry).keypoints.xy, [11, 12], [13, 14], [15, 16]))
    visitor_d, photo_d = np.array(visitor), np.array(photo)
    assert np.corrcoef(visitor_d, photo_d)[0, 1] > 0.8
    # (a frame or two of lag is hysteresis at work)
    assert np.mean(photo_d[visitor_d < 0.4] < 0.7) >= 0.8  # at the bottom of a squat: a squatting photo
    assert np.mean(photo_d[visitor_d > 1.0] > 0.7) >= 0.8  # standing: a standing photo
    assert len(check_screens(reports, index, tmp_path / "shots", clean=3)) >= 6

    # nothing went wrong on the way
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("kiosk.app")]
    assert not bad, [r.getMessage() for r in bad]


@pytest.mark.slow
def test_the_demo_answers_the_squats_with_other_people(shared_dir: Path, models_dir: Path,
                                                        demo_index: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    _, reports, _, index = run_squats(shared_dir, models_dir, demo_index, tmp_path / "shots")
    shown = {r.shown_entry for r in reports if r.shown_entry is not None}
    sources = {index.entry(e).source for e in shown}
    assert len(sources) >= 3 and not any("pose_squats" in s for s in sources)
    assert all(index.entry(e).licence and index.entry(e).credit for e in shown)
    assert len(check_screens(reports, index, tmp_path / "shots", clean=2)) >= 3
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("kiosk.app")]
    assert not bad, [r.getMessage() for r in bad]


def _inside(cmap: CoverMap, x: float, y: float) -> bool:
    px, py = cmap.point(x, y)
    d = cmap.dest
    return d.x <= px < d.x + d.w and d.y <= py < d.y + d.h


#: BlazePose indices of the nose, eyes, ears and ankles (the reference's own points, not the model's).
BP_HEAD_AND_ANKLES = [0, 2, 5, 7, 8, 27, 28]


@pytest.mark.slow
@pytest.mark.parametrize("display, crop_cuts", [
    ({"width": 960, "height": 540}, True),  # landscape screen: a portrait camera in a 480x540 slot
    ({"width": 960, "height": 540, "rotation": 90}, True),  # portrait screen: a 540x480 slot
    ({"width": 960, "height": 540, "layout": "full_mirror"}, False),  # the inset takes the camera's shape
])
def test_a_portrait_visitor_stays_whole_in_the_live_view(display: dict, crop_cuts: bool, shared_dir: Path,
                                                         models_dir: Path, demo_index: Path) -> None:
    loop, reports, views, _ = run_squats(shared_dir, models_dir, demo_index, None, crossfade_ms=0, **display)
    ref = np.asarray(json.loads((shared_dir / REFERENCE).read_text()))  # BlazePose, per camera frame
    checked, cut_by_cover = 0, 0
    for r, view in zip(reports, views, strict=True):
        if r.main_pose is None or view is None:
            continue
        # the visitor's head and ankles in the frame on screen (the reference's own points, not
        # the model's), mirrored as the screen shows them
        points = [(720.0 - x, y) for x, y, _ in ref[r.camera_seq - 1][BP_HEAD_AND_ANKLES]]
        # (the view follows the model's pose, estimated on an older frame than the one shown:
        # rising from a squat, the head is inside because the view holds where it just was)
        assert all(_inside(view, x, y) for x, y in points), (r.frame, r.camera_seq, points, view)
        slot = loop.renderer.layout.camera
        old = cover(720, 1280, Rect(slot.x, slot.y, slot.w, slot.h))  # the centre crop of before
        cut_by_cover += not all(_inside(old, x, y) for x, y in points)
        checked += 1
    assert checked >= 40
    assert (cut_by_cover > 0) == crop_cuts  # where a centre crop would cut the visitor, framing is needed
