"""A running kiosk writes nothing outside its runtime directory in steady state (read-only root,
SD card wear): a real `kiosk run` (replayed squats, a real index, telemetry on) is traced with
strace for a few seconds after warm-up, and every path opened for writing, created, renamed or
removed must lie under the runtime dir."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.app.kiosk_process import KioskProcess, build_index, install_release, switch_current

pytestmark = pytest.mark.slow

WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")
PATH_CALLS = re.compile(r'^(?:\[pid\s+\d+\]\s+|\d+\s+)?(?P<call>openat|open|creat|rename|renameat2?|unlink|'
                        r'unlinkat|mkdir|mkdirat|truncate|symlink|symlinkat|link|linkat|chmod|fchmodat)'
                        r'\((?P<args>.*)\)\s+=\s+(?P<ret>-?\d+)')


def written_paths(trace: str) -> list[str]:
    """Paths a successful syscall in the strace output wrote, created, renamed or removed."""
    out = []
    for line in trace.splitlines():
        m = PATH_CALLS.match(line)
        if not m or m["ret"].startswith("-"):
            continue
        paths = re.findall(r'"((?:[^"\\]|\\.)*)"', m["args"])
        if m["call"] in ("openat", "open") and not WRITE_FLAGS.search(m["args"]):
            continue
        out.extend(paths)
    return out


def test_a_running_kiosk_writes_only_its_runtime_dir(tmp_path: Path, shared_dir: Path,
                                                     models_dir: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("this test needs strace (apt-get install strace)")
    root = tmp_path / "index-root"
    (root / "releases").mkdir(parents=True)
    build_index(shared_dir, models_dir, "a", tmp_path / "built" / "a")
    switch_current(root, install_release(root, tmp_path / "built" / "a"))
    run_dir = tmp_path / "run"
    k = KioskProcess(tmp_path, shared_dir, models_dir, root, args=("--loop",),
                     config=f"telemetry:\n  textfile: {run_dir / 'metrics.prom'}\n  interval_s: 0.5\n")
    try:
        k.start()
        k.wait_status(lambda s: s.get("frames", 0) > 30, 180, "a warmed-up kiosk")
        proc = subprocess.run(["timeout", "-s", "INT", "6", strace, "-f", "-qq", "-p", str(k.pid),
                               "-e", "trace=%file", "-e", "signal=none"],
                              capture_output=True, text=True, timeout=60)
        trace = proc.stderr
        k.wait_status(lambda s: s.get("state") in ("running", "idle"), 30, "still running")
    finally:
        k.kill()
    written = written_paths(trace)
    assert any(Path(p).name == "status.json" for p in written), f"no status write seen: {trace[-1000:]}"
    assert any(Path(p).name == "metrics.prom" for p in written), "no metrics write seen"
    outside = sorted({p for p in written if not Path(p).is_relative_to(run_dir)})
    assert not outside, f"written outside {run_dir}: {outside}"
