"""Chunks and still-frame skipping (kiosk/gallery/sampling.py) on the real squats recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiosk.gallery.sampling import (
    THUMB_CELLS,
    StillFilter,
    chunk_spans,
    sample_source,
    sample_span,
    thumbnail,
)
from kiosk.gallery.sources import Source, iter_video_frames

RECORDING = "data/recordings/pose_squats.mp4"  # 13 s, 5 fps, 65 frames, 720x1280


@pytest.fixture(scope="module")
def video(shared_dir: Path) -> Source:
    return Source(shared_dir / RECORDING, "pose_squats.mp4", "video")


@pytest.mark.parametrize(("fps", "chunk_frames"), [(2.0, 4), (2.0, 64), (None, 7), (3.0, 5)])
def test_decoding_chunk_by_chunk_gives_the_frames_of_one_pass(video: Source, fps, chunk_frames) -> None:
    whole = list(iter_video_frames(video.path, fps))
    spans = chunk_spans(video.path, fps, chunk_frames)
    pieces = [s for span in spans for s in sample_span(video, fps, span, 0.0)]
    assert [s.time for s in pieces] == [t for t, _ in whole]
    assert all(np.array_equal(s.rgb, rgb) for s, (_, rgb) in zip(pieces, whole, strict=True))


@pytest.mark.parametrize(("fps", "chunk_frames", "expected"), [
    (2.0, 4, [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0), (8.0, 10.0), (10.0, 12.0), (12.0, None)]),
    (2.0, 26, [(0.0, None)]),
    (None, 20, [(0.0, 4.0), (4.0, 8.0), (8.0, 12.0), (12.0, None)]),  # 5 fps stream
])
def test_chunk_spans(video: Source, fps, chunk_frames, expected) -> None:
    assert chunk_spans(video.path, fps, chunk_frames) == expected


def test_chunk_spans_of_an_unreadable_file_is_one_span(tmp_path: Path) -> None:
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video")
    assert chunk_spans(bad, 2.0) == [(0.0, None)]


def test_thumbnail_is_the_luma_grid() -> None:
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 50, 200
    th = thumbnail(rgb)
    assert th.shape == (THUMB_CELLS, THUMB_CELLS)
    assert np.allclose(th, 0.299 * 100 + 0.587 * 50 + 0.114 * 200, atol=1e-3)
    rgb[:240] = 0  # top half black: top cells 0, bottom cells unchanged
    th = thumbnail(rgb)
    assert np.allclose(th[:16], 0) and np.allclose(th[16:], th[-1, -1])
    assert thumbnail(np.zeros((40, 40, 3), np.uint8)).shape == (10, 10)  # tiny: compared whole


def test_still_filter_compares_with_the_last_estimated_frame() -> None:
    base = np.full((96, 128, 3), 100, np.uint8)
    f = StillFilter(1.5)
    assert not f.is_still(base)  # the first frame always runs the model
    assert f.is_still(base)
    # A slow drift of 1 grey level a frame: still until it is 2 levels from the last estimated.
    got = [f.is_still(np.full_like(base, 100 + k)) for k in (1, 2, 3, 4, 5)]
    assert got == [True, False, True, False, True]
    assert not StillFilter(0.0).is_still(base) and not StillFilter(0.0).is_still(base)


def test_each_chunk_starts_with_a_model_run(video: Source) -> None:
    """With a threshold no frame reaches, only the first frame of each chunk is estimated."""
    samples = list(sample_source(video, 5.0, still_threshold=1000.0, chunk_frames=16))
    assert len(samples) == 65
    assert [s.time for s in samples if not s.still] == [0.0, 3.2, 6.4, 9.6, 12.8]


def test_skip_still_on_the_recording(video: Source) -> None:
    """At 5 fps, threshold 2 grey levels: 20 of 65 frames skip the model here (docs/cluster.md;
    a band, as another FFmpeg build may decode a few pixels differently)."""
    samples = list(sample_source(video, 5.0, still_threshold=2.0))
    assert 15 <= sum(s.still for s in samples) <= 25
    assert not samples[0].still
