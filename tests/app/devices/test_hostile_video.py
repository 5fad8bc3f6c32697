"""Replays of damaged recordings (truncated, bit-flipped copies of the real squats video): every
outcome is frames, EndOfStream or a CameraError naming the file; nothing else escapes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kiosk.app.devices.camera.replay_source import open_replay
from kiosk.app.devices.camera.source import CameraError, EndOfStream

SQUATS = "data/recordings/pose_squats.mp4"


def damaged(real: bytes, how: str, seed: int) -> bytes:
    rng = random.Random(seed)
    if how == "truncated":
        return real[: rng.randrange(1, len(real))]
    b = bytearray(real)
    for _ in range(rng.choice([5, 50, 500])):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_a_damaged_recording_ends_cleanly(tmp_path: Path, shared_dir: Path, how: str, seed: int) -> None:
    path = tmp_path / "rec.mp4"
    path.write_bytes(damaged((shared_dir / SQUATS).read_bytes(), how, seed))
    try:
        replay = open_replay(path, realtime=False, loop=False)
        for _ in range(10_000):
            frame = replay.capture(1.0)
            assert frame.ndim == 3
    except EndOfStream:
        return
    except CameraError as err:
        assert str(path) in str(err)
        return
    raise AssertionError("a 10 s recording gave 10000 frames")


@pytest.mark.parametrize("content", [b"", b"\0" * 1000])
def test_an_empty_or_blank_file_is_a_camera_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "rec.mp4"
    path.write_bytes(content)
    with pytest.raises(CameraError, match="cannot be read as a video"):
        open_replay(path, realtime=False, loop=False)
