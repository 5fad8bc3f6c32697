"""`kiosk record`: frames from a source into a video that replays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from kiosk.app.devices.camera.source import open_camera
from kiosk.app.service.config import CameraConfig
from kiosk.cli.main import main


def test_record_a_replay_and_replay_the_recording(tmp_path: Path, capsys) -> None:
    src = tmp_path / "frames"
    src.mkdir()
    for i in range(6):
        Image.new("RGB", (64, 48), (40 * i, 100, 200 - 30 * i)).save(src / f"{i:02d}.png")
    out = tmp_path / "clip.mp4"
    argv = ["record", "--source", f"replay:{src}", "--out", str(out), "--frames", "4", "--fps", "10"]
    assert main(argv) == 0
    assert "4 frames at 10 fps" in capsys.readouterr().out
    cam = open_camera(f"replay:{out}", CameraConfig(replay_realtime=False, replay_loop=False))
    cam.start()
    frames = [cam.capture(1.0) for _ in range(4)]
    assert cam.fps == 10
    assert frames[0].shape == (48, 64, 3)
    assert np.abs(frames[2].astype(int).mean(axis=(0, 1)) - (80, 100, 140)).max() < 8  # lossy, close


def test_record_says_what_is_wrong(tmp_path: Path, capsys) -> None:
    argv = ["record", "--source", f"replay:{tmp_path / 'none.mp4'}", "--out", str(tmp_path / "x.mp4")]
    assert main(argv) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
