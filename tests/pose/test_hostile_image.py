"""Hostile image files through the one image opener (kiosk.pose.images.open_image), starting
from the real photos: truncated, bit-flipped, empty, special files, huge declared dimensions.
Every outcome is an image or an ImageLoadError naming the file; nothing else escapes."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.pose.images import MAX_PIXELS, ImageLoadError, load_image, open_image

PHOTOS = ["data/posenet-demo-images/tennis_standing.jpg", "data/posenet-demo-images/soccer.png"]


def png_header(width: int, height: int) -> bytes:
    """A PNG claiming width x height pixels, with one tiny (wrong-sized) data chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def jpeg_with_size(real: bytes, width: int, height: int) -> bytes:
    """The real JPEG with its SOF header claiming another size."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = real.find(marker)
        if i >= 0:
            return real[:i + 5] + struct.pack(">HH", height, width) + real[i + 9:]
    raise AssertionError("no SOF marker")


@pytest.fixture(scope="module")
def photos(shared_dir: Path) -> dict[str, bytes]:
    return {Path(p).suffix: (shared_dir / p).read_bytes() for p in PHOTOS}


@pytest.mark.parametrize(("make", "words"), [
    (lambda p, ph: p.write_bytes(b""), ["empty file"]),
    (lambda p, ph: p.write_bytes(ph[".jpg"][:200]), ["corrupt or truncated"]),
    (lambda p, ph: p.write_bytes(ph[".png"][:5000]), ["corrupt or truncated"]),
    (lambda p, ph: p.write_bytes(b"GIF89a" + os.urandom(50)), []),
    (lambda p, ph: p.write_bytes(png_header(100_000, 100_000)), ["pixels", "scale it down"]),
    (lambda p, ph: p.write_bytes(jpeg_with_size(ph[".jpg"], 60_000, 60_000)), ["pixels"]),
    (lambda p, ph: os.mkfifo(p), ["FIFO"]),
    (lambda p, ph: p.mkdir(), ["directory"]),
    (lambda p, ph: None, ["no such file"]),
])
def test_hostile_images_are_refused_by_name(tmp_path: Path, photos: dict[str, bytes], make,
                                            words: list[str]) -> None:
    path = tmp_path / "photo.jpg"
    make(path, photos)
    with pytest.raises(ImageLoadError) as err:
        load_image(path)
    assert str(path) in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_the_pixel_cap_is_checked_before_decoding(tmp_path: Path, photos: dict[str, bytes]) -> None:
    path = tmp_path / "p.png"
    path.write_bytes(photos[".png"])
    with open_image(path) as im:
        w, h = im.size
    with pytest.raises(ImageLoadError, match="pixels"), open_image(path, max_pixels=w * h - 1):
        pass
    assert MAX_PIXELS >= 4096 * 4096


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bit_flipped_photos_decode_or_are_refused(tmp_path: Path, photos: dict[str, bytes],
                                                  data: st.DataObject) -> None:
    ext = data.draw(st.sampled_from(sorted(photos)))
    raw = bytearray(photos[ext])
    for _ in range(data.draw(st.integers(1, 30))):
        raw[data.draw(st.integers(0, min(len(raw) - 1, 4000)))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    path = tmp_path / f"fuzz{ext}"
    path.write_bytes(bytes(raw[:cut]))
    try:
        arr = load_image(path)
    except ImageLoadError as err:
        assert str(path) in str(err)
        return
    assert arr.ndim == 3 and arr.shape[2] == 3
