"""The real `kiosk run` as systemd runs it: a subprocess with NOTIFY_SOCKET and WATCHDOG_USEC,
the replayed squats recording, real indexes built with `kiosk index build`, MoveNet on the CPU.

Every wait is bounded; every kiosk is killed in a finaliser. No assertion is about speed.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.app.kiosk_process import KioskProcess, build_index, switch_current

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(shared_dir: Path, models_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Two small real indexes: name -> (directory, index_id)."""
    base = tmp_path_factory.mktemp("built")
    out = {}
    for name in ("a", "b"):
        index_id = build_index(shared_dir, models_dir, name, base / name)
        out[name] = (base / name, index_id)
    assert out["a"][1] != out["b"][1]
    return out


def release(root: Path, built: dict[str, tuple[Path, str]], name: str) -> Path:
    src, index_id = built[name]
    dest = root / "releases" / index_id
    if not dest.exists():
        shutil.copytree(src, dest)
    return dest


@pytest.fixture()
def index_root(tmp_path: Path) -> Path:
    root = tmp_path / "index-root"
    (root / "releases").mkdir(parents=True)
    return root


@pytest.fixture()
def kiosk(tmp_path: Path, shared_dir: Path, models_dir: Path,
          index_root: Path) -> Iterator[Callable[..., KioskProcess]]:
    started: list[KioskProcess] = []

    def start(**kwargs: object) -> KioskProcess:
        k = KioskProcess(tmp_path, shared_dir, models_dir, index_root, **kwargs)  # type: ignore[arg-type]
        started.append(k)
        return k.start()

    yield start
    for k in started:
        k.kill()


def wait_pings(k: KioskProcess, count: int, after: int) -> int:
    for _ in range(count):
        after = k.notify.wait_for("WATCHDOG", after=after, timeout=60) + 1
    return after


def wait_healthy(k: KioskProcess, index_id: str, timeout: float = 60) -> None:
    """`kiosk status --expect-index` polled until it passes, as `kiosk deploy`'s health check
    does (a loaded machine can stall a stage for a moment)."""
    deadline = time.monotonic() + timeout
    while (result := k.kiosk_status("--expect-index", index_id)).returncode != 0:
        assert time.monotonic() < deadline, (f"kiosk status never showed {index_id} healthy: "
                                             f"{result.stdout}{result.stderr}\n{k.log()[-4000:]}")
        time.sleep(0.1)


def reload(k: KioskProcess) -> dict[str, str]:
    """SIGHUP, then RELOADING (with MONOTONIC_USEC) and READY again; returns the RELOADING message."""
    n = len(k.notify.snapshot())
    k.signal(signal.SIGHUP)
    i = k.notify.wait_for("RELOADING", after=n, timeout=120)
    k.wait_ready(after=i + 1, timeout=120)
    return k.notify.snapshot()[i]


def frames_advance(k: KioskProcess) -> None:
    before = k.wait_status(lambda s: True)["frames"]
    k.wait_status(lambda s: s["frames"] > before + 2, what="frames advancing")


def test_ready_watchdog_reload_stop_and_cpu_fallback(kiosk: Callable[..., KioskProcess], index_root: Path,
                                                     built: dict[str, tuple[Path, str]]) -> None:
    switch_current(index_root, release(index_root, built, "a"))
    # No Edge TPU here, and none will load even where libedgetpu exists: delegate auto -> cpu.
    k = kiosk(env={"KIOSK_EDGETPU_LIB": "/nonexistent/libedgetpu.so.1"})
    ready = k.wait_ready()
    assert "STATUS" in k.notify.snapshot()[ready]
    status = k.wait_status(lambda s: s["state"] == "running" and s["frames"] > 0, what="running")
    assert status["index_id"] == built["a"][1]
    assert status["model"] == "movenet-lightning"
    assert status["delegate"] == "cpu"
    assert status["pid"] == k.pid
    assert "Edge TPU delegate failed to load" in k.log() and "on CPU" in k.log()

    after = wait_pings(k, 3, ready + 1)  # WATCHDOG keeps coming
    message = reload(k)
    assert int(message["MONOTONIC_USEC"]) > 0
    wait_pings(k, 2, after)

    n = len(k.notify.snapshot())
    k.signal(signal.SIGTERM)
    k.notify.wait_for("STOPPING", after=n, timeout=60)
    assert k.wait() == 0
    assert k.status()["state"] == "stopping"  # type: ignore[index]
    assert "Traceback" not in k.log()


def test_a_hung_model_stops_pinging_while_the_screen_runs(kiosk: Callable[..., KioskProcess],
                                                           index_root: Path,
                                                           built: dict[str, tuple[Path, str]]) -> None:
    switch_current(index_root, release(index_root, built, "a"))
    k = kiosk(module=("tests.app.hung_kiosk", "5"), watchdog_usec=2_000_000)
    ready = k.wait_ready()
    wait_pings(k, 1, ready + 1)
    # Wait (bounded) for 3 s without a ping (the pings were due every 0.5 s): systemd would act now.
    quiet_for, deadline = 3.0, time.monotonic() + 120
    while True:
        n = k.notify.count("WATCHDOG")
        time.sleep(quiet_for)
        if k.notify.count("WATCHDOG") == n:
            break
        assert time.monotonic() < deadline, "the watchdog pings never stopped"
    assert k.proc is not None and k.proc.poll() is None  # hung, not dead: only the watchdog notices
    assert "the model hangs" in k.log()
    # ...while the screen keeps being drawn (frames go on) and the status names the hung stage
    before = k.wait_status(lambda s: s["stalled"] == ["pose"], what="the stalled pose stage")["frames"]
    k.wait_status(lambda s: s["frames"] > before + 10, what="frames going on")
    result = k.kiosk_status("--json")
    assert result.returncode == 1
    assert any("stalled" in p and "pose" in p for p in json.loads(result.stdout)["problems"])
    k.signal(signal.SIGTERM)
    assert k.wait() == 0


def test_reload_new_index_refuses_bad_config_and_bad_index(kiosk: Callable[..., KioskProcess],
                                                           index_root: Path,
                                                           built: dict[str, tuple[Path, str]]) -> None:
    id_a, id_b = built["a"][1], built["b"][1]
    switch_current(index_root, release(index_root, built, "a"))
    k = kiosk()
    k.wait_ready()
    k.wait_status(lambda s: s["index_id"] == id_a and s["state"] == "running", what="index a")

    # A deploy: `current` switched to a new release, then SIGHUP; the health check sees the new id.
    switch_current(index_root, release(index_root, built, "b"))
    reload(k)
    wait_healthy(k, id_b)
    assert json.loads(k.kiosk_status("--json").stdout)["index_id"] == id_b
    status = k.status()
    assert status is not None and status["index_path"] == str((index_root / "releases" / id_b).resolve())

    # A bad config is refused: still running, still index b, the reason in last_error.
    k.write_config("display:\n  layout: grid\n")
    reload(k)
    status = k.wait_status(lambda s: s["last_error"] is not None, what="last_error")
    assert status["state"] == "running"
    assert status["index_id"] == id_b
    assert "reload refused" in status["last_error"] and "display.layout" in status["last_error"]
    assert "display.layout" in k.log()
    frames_advance(k)

    # A bad index is refused too (a file cut short): index b keeps serving.
    k.write_config("")
    broken = index_root / "releases" / "broken"
    shutil.copytree(built["a"][0], broken)
    vectors = broken / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-16])
    switch_current(index_root, broken)
    reload(k)
    status = k.wait_status(lambda s: s["last_error"] is not None and "index" in s["last_error"],
                           what="the refused index")
    assert status["index_id"] == id_b
    assert status["state"] == "running"
    assert "reload refused" in status["last_error"]
    frames_advance(k)
    wait_healthy(k, id_b)

    k.signal(signal.SIGTERM)
    assert k.wait() == 0


def test_missing_index_runs_degraded_until_a_deploy(kiosk: Callable[..., KioskProcess], index_root: Path,
                                                    built: dict[str, tuple[Path, str]]) -> None:
    k = kiosk()
    k.wait_ready()
    status = k.wait_status(lambda s: s["state"] == "degraded", what="degraded")
    assert status["index_id"] is None
    assert "no usable index" in status["last_error"]
    assert "no usable index" in k.log()
    frames_advance(k)  # the loop keeps running ("no index" screen)

    switch_current(index_root, release(index_root, built, "a"))
    reload(k)
    status = k.wait_status(lambda s: s["index_id"] == built["a"][1], what="index a")
    assert status["state"] == "running"
    assert status["last_error"] is None
    k.signal(signal.SIGINT)
    assert k.wait() == 0


def test_camera_failed_exits_non_zero(kiosk: Callable[..., KioskProcess], index_root: Path,
                                      built: dict[str, tuple[Path, str]], tmp_path: Path) -> None:
    switch_current(index_root, release(index_root, built, "a"))
    broken_camera = tmp_path / "camera"
    broken_camera.mkdir()
    (broken_camera / "frame.jpg").write_text("not a picture")
    k = kiosk(config="camera:\n  max_failures: 2\n  capture_timeout_s: 0.5\n",
              args=("--source", f"replay:{broken_camera}"))
    assert k.wait(timeout=180) == 1
    assert "the camera gave up" in k.log()
    assert "camera gave up" in k.status()["last_error"]  # type: ignore[index]


def test_end_of_a_replay_exits_zero(kiosk: Callable[..., KioskProcess], index_root: Path,
                                    built: dict[str, tuple[Path, str]]) -> None:
    switch_current(index_root, release(index_root, built, "a"))
    k = kiosk(args=("--once", "--fast"))
    assert k.wait(timeout=300) == 0
    assert "the replay ended" in k.log()
    assert k.status()["frames"] > 0  # type: ignore[index]
