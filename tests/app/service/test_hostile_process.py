"""The real `kiosk run` under hostile reloads and stops: a subprocess with NOTIFY_SOCKET and
WATCHDOG_USEC, the replayed squats, a real index built from the shared photos, MoveNet on the CPU.

Each hostile config or index is refused on SIGHUP while the old one keeps serving (frames
advance, READY follows RELOADING); SIGTERM ends the process during a slow reload and during a
start-up that reads a FIFO. Every wait is bounded; no assertion is about speed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.gallery import manifest as mf
from tests.app.kiosk_process import KioskProcess, build_index, switch_current
from tests.core.test_hostile_yaml import billion_laughs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_a(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("built") / "a"
    return out, build_index(shared_dir, models_dir, "a", out)


@pytest.fixture()
def index_root(tmp_path: Path, built_a: tuple[Path, str]) -> Path:
    root = tmp_path / "index-root"
    release = root / "releases" / built_a[1]
    shutil.copytree(built_a[0], release)
    switch_current(root, release)
    return root


def reload(k: KioskProcess) -> None:
    n = len(k.notify.snapshot())
    k.signal(signal.SIGHUP)
    i = k.notify.wait_for("RELOADING", after=n, timeout=120)
    k.wait_ready(after=i + 1, timeout=120)


def frames_advance(k: KioskProcess) -> None:
    before = k.wait_status(lambda s: True)["frames"]
    k.wait_status(lambda s: s["frames"] > before + 2, what="frames advancing")


def put_config(k: KioskProcess, write: Callable[[Path], None]) -> None:
    if k.config_file.exists() or k.config_file.is_symlink():
        k.config_file.unlink()
    write(k.config_file)


HOSTILE_CONFIGS: list[tuple[str, Callable[[Path], None], list[str]]] = [
    ("latin-1 byte", lambda p: p.write_bytes(b"display:\n  layout: caf\xe9\n"), ["0xe9", "UTF-8"]),
    ("utf-16", lambda p: p.write_bytes("display:\n  width: 800\n".encode("utf-16")), ["UTF-16"]),
    ("alias bomb", lambda p: p.write_text(billion_laughs()), ["aliases"]),
    ("nan", lambda p: p.write_text("status:\n  interval_s: .nan\n"), ["status.interval_s", "finite"]),
    ("duplicate", lambda p: p.write_text("match:\n  max_distance: 0.3\n  max_distance: 0.4\n"),
     ["duplicate key", "line 3"]),
    ("deep", lambda p: p.write_text("[" * 5000 + "]" * 5000), ["nested deeper"]),
    ("fifo", lambda p: os.mkfifo(p), ["FIFO"]),
]


def test_hostile_configs_and_indexes_are_refused_while_serving(kiosk: Callable[..., KioskProcess],
                                                               index_root: Path,
                                                               built_a: tuple[Path, str]) -> None:
    index_id = built_a[1]
    k = kiosk()
    k.wait_ready()
    k.wait_status(lambda s: s["state"] == "running" and s["index_id"] == index_id, what="running")
    good_config = k.config_file.read_bytes()
    for name, write, words in HOSTILE_CONFIGS:
        put_config(k, write)
        reload(k)
        status = k.wait_status(lambda s, w=words: all(x in (s["last_error"] or "") for x in w),
                               what=f"the refused {name} config")
        assert status["state"] == "running" and status["index_id"] == index_id, name
        assert "reload refused" in status["last_error"]
        frames_advance(k)
    put_config(k, lambda p: p.write_bytes(good_config))

    # Hostile index releases: a FIFO manifest, a symlink loop as `current`, a malformed entry.
    fifo_release = index_root / "releases" / "fifo"
    shutil.copytree(built_a[0], fifo_release)
    (fifo_release / mf.MANIFEST).unlink()
    os.mkfifo(fifo_release / mf.MANIFEST)
    bad_entry = index_root / "releases" / "bad-entry"
    shutil.copytree(built_a[0], bad_entry)
    from tests.gallery.test_hostile_index import edit_json, set_entry

    edit_json(bad_entry, mf.ENTRIES, set_entry("crop_box", ["a", "b", "c", "d"]))
    loop_a, loop_b = index_root / "loop-a", index_root / "loop-b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    for target, words in ((fifo_release, ["FIFO"]), (bad_entry, ["crop_box"]), (loop_a, ["symlink loop"])):
        switch_current(index_root, target)
        reload(k)
        status = k.wait_status(lambda s, w=words: all(x in (s["last_error"] or "") for x in w),
                               what=f"the refused index {target.name}")
        assert status["state"] == "running" and status["index_id"] == index_id, target
        frames_advance(k)

    k.signal(signal.SIGTERM)
    assert k.wait(timeout=60) == 0
    log = k.log()
    assert "Traceback" not in log


def test_sigterm_during_a_slow_reload_and_pings_continue(kiosk: Callable[..., KioskProcess],
                                                         index_root: Path, built_a: tuple[Path, str]) -> None:
    """The new release lists a 6 GB (sparse) file: its sha256 takes many seconds, in the
    background; watchdog pings keep coming meanwhile, and SIGTERM ends the kiosk at once."""
    k = kiosk()
    ready = k.wait_ready()
    big = index_root / "releases" / "big"
    shutil.copytree(built_a[0], big)
    with open(big / "renditions" / "zz.bin", "wb") as f:
        f.truncate(6 << 30)
    from tests.gallery.test_hostile_index import resign

    resign(big, lambda m: m["files"].__setitem__("renditions/zz.bin", {"sha256": "0" * 64, "bytes": 6 << 30}))
    switch_current(index_root, big)
    n = len(k.notify.snapshot())
    k.signal(signal.SIGHUP)
    i = k.notify.wait_for("RELOADING", after=n, timeout=60)
    pings = k.notify.count("WATCHDOG", after=i)
    for _ in range(3):  # the loop keeps pinging while the reload thread hashes
        k.notify.wait_for("WATCHDOG", after=len(k.notify.snapshot()), timeout=30)
    assert k.notify.count("WATCHDOG", after=i) >= pings + 3
    assert k.notify.count("READY", after=i) == 0, "the reload finished too soon to test this"
    k.signal(signal.SIGTERM)
    assert k.wait(timeout=30) == 0
    assert ready >= 0


def test_a_fifo_config_at_start_exits_with_a_message(kiosk: Callable[..., KioskProcess]) -> None:
    k = kiosk()
    k.kill()  # started with a good config; start again on a FIFO
    put_config(k, lambda p: os.mkfifo(p))
    k.start()
    assert k.wait(timeout=60) == 2
    assert "FIFO" in k.log() and "Traceback" not in k.log()


def test_a_truncated_model_is_refused_and_the_process_exits_cleanly(
        kiosk: Callable[..., KioskProcess], models_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "cut.tflite"
    model.write_bytes((models_dir / "movenet_single_pose_lightning_ptq.tflite").read_bytes()[:300_000])
    k = kiosk(config=f"model:\n  name: {model}\n  delegate: cpu\n")
    assert k.wait(timeout=120) == 1
    log = k.log()
    assert "cut.tflite" in log and "not pinned" in log and "Traceback" not in log


def test_kiosk_index_verify_reports_json_types_without_a_traceback(index_root: Path, built_a) -> None:
    release = index_root / "releases" / built_a[1]
    (release / mf.SOURCES).write_text(json.dumps({"sources": 5}))
    from tests.gallery.test_hostile_index import resign

    resign(release)
    result = subprocess.run([sys.executable, "-m", "kiosk", "index", "verify", str(index_root / "current")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1 and "sources.json" in result.stderr and "Traceback" not in result.stderr
