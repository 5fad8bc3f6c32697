"""The render path's photo loader under hostile renditions: a corrupt, empty, oversized or FIFO
rendition becomes a failed cache slot (the kiosk keeps its current photo), never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.app.screen.imagecache import ImageCache, load_photo
from tests.pose.test_hostile_image import png_header

REAL = "data/posenet-demo-images/tennis_standing.jpg"


@pytest.mark.parametrize("make", [
    lambda p, real: p.write_bytes(b""),
    lambda p, real: p.write_bytes(real[: len(real) // 3]),
    lambda p, real: p.write_bytes(png_header(80_000, 80_000)),
    lambda p, real: os.mkfifo(p),
])
def test_a_hostile_rendition_fails_its_slot_only(tmp_path: Path, shared_dir: Path, make) -> None:
    real = (shared_dir / REAL).read_bytes()
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(real)
    make(bad, real)
    cache = ImageCache(lambda key: load_photo(key, (64, 48)))
    try:
        assert cache.wait(good) is not None
        assert cache.wait(bad) is None and cache.failed_key(bad)
        assert cache.failed == 1 and cache.loaded == 1
    finally:
        cache.close()
