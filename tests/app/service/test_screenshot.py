"""Screenshots on request from a real `kiosk run`: the live camera is blanked unless asked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.app.service.screenshot import screen_rect


@pytest.mark.parametrize(("rotation", "expected"), [
    (0, (10, 20, 30, 40)), (90, (100 - 60, 10, 40, 30)), (180, (200 - 40, 100 - 60, 30, 40)),
    (270, (20, 200 - 40, 40, 30)),
])
def test_canvas_rect_on_the_rotated_screen(rotation: int, expected: tuple[int, int, int, int]) -> None:
    assert screen_rect((10, 20, 30, 40), (200, 100), rotation) == expected


@pytest.mark.slow
def test_screenshot_of_a_running_kiosk(tmp_path: Path, shared_dir: Path, models_dir: Path) -> None:
    from tests.app.kiosk_process import KioskProcess, build_index, install_release, switch_current

    root = tmp_path / "index-root"
    (root / "releases").mkdir(parents=True)
    build_index(shared_dir, models_dir, "a", tmp_path / "built" / "a")
    switch_current(root, install_release(root, tmp_path / "built" / "a"))
    k = KioskProcess(tmp_path, shared_dir, models_dir, root, args=("--loop",))
    try:
        k.start()
        k.wait_status(lambda s: s.get("frames", 0) > 10, 120, "frames")

        def shot(*extra: str) -> np.ndarray:
            out = tmp_path / f"shot{len(extra)}.png"
            proc = subprocess.run([sys.executable, "-m", "kiosk", "screenshot", "-o", str(out),
                                   "--status-file", str(k.status_file), *extra],
                                  capture_output=True, text=True, timeout=60, env=k.env)
            assert proc.returncode == 0, proc.stderr
            return np.asarray(Image.open(out).convert("RGB"))

        blanked = shot()
        assert blanked.shape == (180, 320, 3)  # the configured display (side_by_side: camera left)
        assert blanked[:, :160].max() == 0, "the live camera must be blanked"
        assert blanked[:, 160:].max() > 0
        with_camera = shot("--include-camera")
        assert with_camera[:, :160].std() > 5  # the replayed squats
        assert not list(k.status_file.parent.glob("screenshot*"))  # answers are taken away
    finally:
        k.kill()
