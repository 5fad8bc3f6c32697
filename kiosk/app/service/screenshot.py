"""Screenshots on request: `kiosk screenshot` asks the running kiosk through a file in its runtime
directory; the kiosk answers at its next status update with a PNG beside it.

    <runtime dir>/screenshot.request       {"id": ..., "include_camera": false} (written by the client)
    <runtime dir>/screenshot-<id>.png      the answer (the client reads, then removes it)

The live-camera region is painted black unless the request says `include_camera`: frames of
visitors never leave the device unless someone asks for them.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REQUEST = "screenshot.request"


class ScreenshotError(RuntimeError):
    """No screenshot came back; the message says why."""


def answer_path(runtime_dir: Path, request_id: str) -> Path:
    return runtime_dir / f"screenshot-{request_id}.png"


def screen_rect(rect: tuple[int, int, int, int], canvas: tuple[int, int], rotation: int
                ) -> tuple[int, int, int, int]:
    """A canvas rectangle (x, y, w, h) on the physical screen after rotating the canvas clockwise."""
    x, y, w, h = rect
    cw, ch = canvas
    if rotation == 90:
        return ch - (y + h), x, h, w
    if rotation == 180:
        return cw - (x + w), ch - (y + h), w, h
    if rotation == 270:
        return y, cw - (x + w), h, w
    return rect


def camera_rect(config: Any, screen: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where the live camera is on the physical screen, for this display config."""
    from kiosk.app.screen.layout import make_layout

    lay = make_layout(config.display, screen, (config.camera.width, config.camera.height))
    return screen_rect(lay.camera.as_tuple(), lay.canvas, lay.rotation)


def blank(png: Path, rect: tuple[int, int, int, int]) -> None:
    from PIL import Image, ImageDraw

    with Image.open(png) as src:
        im = src.convert("RGB")
    x, y, w, h = rect
    ImageDraw.Draw(im).rectangle((x, y, x + w - 1, y + h - 1), fill=(0, 0, 0))
    tmp = png.with_suffix(".blank.png")
    im.save(tmp)
    os.replace(tmp, png)


def serve_request(runtime_dir: Path, display: Any, config: Any) -> bool:
    """The service's hook: answer a pending request (True when one was answered)."""
    request = runtime_dir / REQUEST
    if display is None or not request.exists():
        return False
    try:
        data = json.loads(request.read_text())
        request.unlink()
        request_id = str(uuid.UUID(str(data["id"])))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring a bad screenshot request %s (%s)", request, exc)
        request.unlink(missing_ok=True)
        return False
    out = answer_path(runtime_dir, request_id)
    tmp = out.with_suffix(".tmp.png")
    try:
        display.save(tmp)
        if not data.get("include_camera"):
            blank(tmp, camera_rect(config, tuple(display.size)))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except Exception as exc:  # a screenshot must never stop the kiosk
        log.warning("screenshot failed: %s", exc)
        tmp.unlink(missing_ok=True)
        return False
    log.info("screenshot %s written (camera %s)", out,
             "included" if data.get("include_camera") else "blanked")
    return True


def request(runtime_dir: Path, include_camera: bool, timeout: float) -> bytes:
    """Ask the running kiosk for a screenshot and wait for the PNG (its bytes)."""
    request_id = str(uuid.uuid4())
    path = runtime_dir / REQUEST
    tmp = runtime_dir / f".{REQUEST}.{request_id}"
    try:
        tmp.write_text(json.dumps({"id": request_id, "include_camera": include_camera}))
        os.replace(tmp, path)
    except OSError as exc:
        raise ScreenshotError(f"cannot ask the kiosk for a screenshot: {exc} (run as the kiosk's user or "
                              "root: sudo kiosk screenshot)") from exc
    answer = answer_path(runtime_dir, request_id)
    deadline = time.monotonic() + timeout
    while not answer.exists():
        if time.monotonic() > deadline:
            path.unlink(missing_ok=True)
            raise ScreenshotError(f"no screenshot from the kiosk within {timeout:g}s: is it running "
                                  "(kiosk status)?")
        time.sleep(0.1)
    data = answer.read_bytes()
    answer.unlink(missing_ok=True)
    return data
