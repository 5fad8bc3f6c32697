from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery.sources import (
    SourceError,
    enumerate_sources,
    iter_frames,
    iter_video_frames,
    load_image,
)


def bad_files(folder: Path, good: Path) -> dict[str, str]:
    """A folder with one real photo and three bad files; returns {file: expected reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(good, folder / "good.jpg")
    data = good.read_bytes()
    (folder / "corrupt.jpg").write_bytes(data[: len(data) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("this is not a PNG\n")
    return {
        "corrupt.jpg": "corrupt or truncated",
        "empty.jpg": "empty file",
        "notes.png": "not a readable image",
    }


def test_enumerate_folder_and_files(shared_dir: Path) -> None:
    couple = shared_dir / "data/coral/test_couple.jpg"
    srcs, skipped = enumerate_sources([shared_dir / "data/recordings", couple])
    assert [(s.name, s.kind) for s in srcs] == [
        ("recordings/pose_squats.mp4", "video"),
        ("test_couple.jpg", "image"),  # a file argument: its own name
    ]
    assert [s.name for s in skipped] == ["recordings/pose_squats.full.json"]
    assert "unsupported file type '.json'" in skipped[0].reason


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        enumerate_sources([tmp_path / "nope"])


def test_hidden_files_are_ignored(tmp_path: Path, shared_dir: Path) -> None:
    (tmp_path / ".thumbs").mkdir()
    shutil.copy(shared_dir / "data/coral/test_couple.jpg", tmp_path / ".thumbs/x.jpg")
    shutil.copy(shared_dir / "data/coral/test_couple.jpg", tmp_path / "x.jpg")
    srcs, skipped = enumerate_sources([tmp_path])
    assert [s.name for s in srcs] == [f"{tmp_path.name}/x.jpg"] and skipped == []


def test_bad_images_raise_with_reason(tmp_path: Path, shared_dir: Path) -> None:
    reasons = bad_files(tmp_path / "bad", shared_dir / "data/coral/test_couple.jpg")
    assert load_image(tmp_path / "bad/good.jpg").ndim == 3
    for name, reason in reasons.items():
        with pytest.raises(SourceError, match=reason) as info:
            load_image(tmp_path / "bad" / name)
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("fps", "expected"),
    [
        (None, 65),  # every frame of the 5 fps recording
        (5.0, 65),
        (2.0, 26),
        (1.0, 13),
    ],
)
def test_video_sampling(shared_dir: Path, fps: float | None, expected: int) -> None:
    times = [t for t, _ in iter_video_frames(shared_dir / "data/recordings/pose_squats.mp4", fps)]
    assert len(times) == expected
    assert times == sorted(times) and times[0] == 0.0
    if fps:
        assert np.all(np.diff(times) >= 1.0 / fps - 0.21)  # 0.2 s frame spacing in the source


def test_video_frames_are_portrait_rgb(shared_dir: Path) -> None:
    srcs, _ = enumerate_sources([shared_dir / "data/recordings/pose_squats.mp4"])
    t, rgb = next(iter_frames(srcs[0], 1.0))
    assert t == 0.0 and rgb.shape == (1280, 720, 3) and rgb.dtype == np.uint8


def test_video_selected_times(shared_dir: Path) -> None:
    got = [t for t, _ in iter_video_frames(shared_dir / "data/recordings/pose_squats.mp4", 2.0, {1.0, 6.6})]
    assert got == [1.0, 6.6]


def test_unreadable_video(tmp_path: Path) -> None:
    p = tmp_path / "bad.mp4"
    p.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match=r"bad\.mp4"):
        list(iter_video_frames(p, 2.0))
