from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery.sources import (
    Skipped,
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


def test_linked_folders_are_followed_once_and_broken_links_named(
    tmp_path: Path, shared_dir: Path
) -> None:
    """An archive assembled from links: a linked folder is walked (named through the link), a
    link back up the tree does not loop, a link to nothing and a pipe are named; sorted by path
    parts, as before links were followed."""
    photo = shared_dir / "data/coral/test_couple.jpg"
    elsewhere = tmp_path / "nas/summer"
    elsewhere.mkdir(parents=True)
    shutil.copy(photo, elsewhere / "b.jpg")
    arch = tmp_path / "archive"
    (arch / "a").mkdir(parents=True)
    shutil.copy(photo, arch / "a.jpg")
    shutil.copy(photo, arch / "a/z.jpg")
    (arch / "summer").symlink_to(elsewhere)
    (arch / "a/up").symlink_to(arch)
    (arch / "gone.jpg").symlink_to(tmp_path / "unmounted/c.jpg")
    os.mkfifo(arch / "pipe.jpg")
    srcs, skipped = enumerate_sources([arch])
    assert [s.name for s in srcs] == ["archive/a/z.jpg", "archive/a.jpg", "archive/summer/b.jpg"]
    assert {s.name: s.reason for s in skipped} == {
        "archive/gone.jpg": f"a link to {tmp_path}/unmounted/c.jpg, which does not exist "
        "(mount its disk, or remove the link)",
        "archive/pipe.jpg": "not a regular file (a pipe, socket or device)",
    }


def test_a_folder_that_cannot_be_listed_is_named(
    tmp_path: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locked").mkdir()
    shutil.copy(shared_dir / "data/coral/test_couple.jpg", tmp_path / "x.jpg")
    listing = Path.iterdir

    def iterdir(self: Path) -> Iterator[Path]:
        if self.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return listing(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    srcs, skipped = enumerate_sources([tmp_path])
    assert [s.name for s in srcs] == [f"{tmp_path.name}/x.jpg"]
    assert skipped == [Skipped(f"{tmp_path.name}/locked",
                               "a folder that cannot be listed (check its permissions)")]


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
