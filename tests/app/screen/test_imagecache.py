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


def test_load_now_loads_in_the_calling_thread_once() -> None:
    threads: list[str] = []

    def loader(key: int) -> str:
        threads.append(threading.current_thread().name)
        return f"photo{key}"

    cache = ImageCache(loader)
    try:
        assert cache.load_now(7) == "photo7"
        assert threads == [threading.current_thread().name]  # here, not in the loader thread
        assert cache.load_now(7) == "photo7" and cache.get(7) == "photo7" and len(threads) == 1
        ready = cache.ready_at(7)
        assert ready is not None and ready[1] >= 0  # (when it became ready, its load time in ms)
    finally:
        cache.close()


def test_load_now_waits_for_a_load_in_progress_instead_of_loading_twice() -> None:
    entered, gate = threading.Event(), threading.Event()
    calls: list[int] = []

    def loader(key: int) -> str:
        calls.append(key)
        entered.set()
        gate.wait(5)
        return f"photo{key}"

    cache = ImageCache(loader)
    try:
        cache.request(5)
        assert entered.wait(5)  # the loader thread is inside loader(5)
        got: list[object] = []
        waiter = threading.Thread(target=lambda: got.append(cache.load_now(5)))
        waiter.start()
        gate.set()
        waiter.join(5)
        assert got == ["photo5"] and calls == [5]
    finally:
        gate.set()
        cache.close()
