"""Photos off the render path: background loads, bounded LRU, failures remembered."""

from __future__ import annotations

import logging
import threading

import pytest

from kiosk.app.screen.imagecache import ImageCache


def test_get_never_blocks_and_loads_in_the_background() -> None:
    gate = threading.Event()
    loaded: list[int] = []

    def loader(key: int) -> str:
        gate.wait(5)
        loaded.append(key)
        return f"photo{key}"

    cache = ImageCache(loader, capacity=4)
    try:
        assert cache.get(1) is None  # not yet: the render path goes on
        gate.set()
        assert cache.wait(1) == "photo1"
        assert cache.get(1) == "photo1" and loaded == [1]
    finally:
        cache.close()


def test_capacity_is_bounded_least_recently_used_first() -> None:
    cache = ImageCache(lambda k: k * 10, capacity=3)
    try:
        for k in (1, 2, 3):
            assert cache.wait(k) == k * 10
        cache.get(1)  # 1 is used again
        assert cache.wait(4) == 40  # evicts 2, the least recently used
        assert cache.get(2) is None and cache.get(1) == 10
        assert len(cache._cache) <= 3
    finally:
        cache.close()


def test_a_bad_photo_is_logged_once_and_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def loader(key: int) -> str:
        calls.append(key)
        raise OSError("truncated JPEG")

    cache = ImageCache(loader)
    try:
        with caplog.at_level(logging.WARNING):
            assert cache.wait(7) is None
            assert cache.get(7) is None and cache.failed_key(7)
        assert calls == [7]
        assert "truncated JPEG" in caplog.text and "kiosk index verify" in caplog.text
    finally:
        cache.close()
