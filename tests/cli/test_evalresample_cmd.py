"""`kiosk eval resampling` end to end: real MoveNet on a real photo, and bad inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kiosk.cli.main import main
from kiosk.core.enums import ExitCode

PHOTOS = "data/posenet-demo-images"


def test_the_command_reports_every_pair_as_json(
        shared_dir: Path, use_models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(shared_dir / PHOTOS / "tennis_standing.jpg")
    assert main(["eval", "resampling", "--images", photo, "--json"]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == 1 and len(out["pairs"]) == 6


def test_the_command_names_a_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "resampling", "--video", str(tmp_path / "nope.mp4")]) == ExitCode.USAGE
    assert "nope.mp4 not found" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "name", "content"), [
    ("--images", "broken.jpg", b"not a jpeg"),
    ("--video", "broken.mp4", b"not a video"),
    ("--images", "notes.txt", b"no photo at all"),
])
def test_the_command_names_unreadable_input_and_fails(
        tmp_path: Path, use_models_dir: Path, capsys: pytest.CaptureFixture[str],
        option: str, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    assert main(["eval", "resampling", option, str(tmp_path / name)]) == ExitCode.FAILURE
    err = capsys.readouterr().err
    assert "no frame could be read" in err and f"skipping {name}" in err.replace(f"{tmp_path}/", "")


def test_a_video_without_pyav_names_the_install(tmp_path: Path, use_models_dir: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A light install (the numpy 1.24 leg, a Pi without the `video` extra) reads no video."""
    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    assert main(["eval", "resampling", "--video", str(tmp_path / "clip.mp4")]) == ExitCode.FAILURE
    assert "needs PyAV: pip install '.[video]'" in capsys.readouterr().err
