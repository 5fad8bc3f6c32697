"""`kiosk record`: save camera frames to a video file for later replay (replay:PATH).

Nothing from the camera is ever written to disk unless the operator runs this command (or asks
`kiosk run --screenshots DIR` for screenshots). Frames are recorded as the camera gives them:
not mirrored, not rotated (the kiosk applies camera.mirror and camera.rotation on replay too).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.core.enums import ExitCode

log = logging.getLogger(__name__)

HELP = "record camera frames to a video file (for replay:PATH); nothing is saved otherwise"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, metavar="SOURCE",
                        help="picamera2 | webcam:N | replay:PATH")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="video file to write (.mp4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to record (default 10)")
    parser.add_argument("--frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate written to the file (default: the replay's, else 30)")
    parser.add_argument("--config", metavar="FILE", help="configuration (camera.width/height, timeouts)")
    parser.add_argument("--codec", default="libx264", help="video codec (default libx264, else mpeg4)")
    parser.set_defaults(func=run)


def _open_stream(container: Any, codec: str, fps: float, width: int, height: int) -> Any:
    from fractions import Fraction

    rate = Fraction(fps).limit_denominator(1000)
    for name in (codec, "mpeg4"):
        try:
            stream = container.add_stream(name, rate=rate)
        except Exception as exc:  # codec not built into this FFmpeg
            log.warning("codec %s unavailable (%s); trying the next", name, exc)
            continue
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if name == "libx264":
            stream.options = {"crf": "18", "preset": "veryfast"}
        return stream
    raise RuntimeError(f"no usable video codec ({codec}, mpeg4) in this PyAV build")


def run(args: argparse.Namespace) -> int:
    from kiosk.app.devices.camera.source import CameraError, EndOfStream, open_camera
    from kiosk.app.service.config import ConfigError, load_config

    try:
        import av
    except ImportError:
        print("kiosk record: needs PyAV: pip install '.[video]'", file=sys.stderr)
        return ExitCode.USAGE
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"kiosk record: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        camera = open_camera(args.source, config.camera)
        camera.start()
    except CameraError as exc:
        print(f"kiosk record: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    fps = args.fps or camera.fps or 30.0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    t0 = time.monotonic()
    container = None
    stream = None
    try:
        container = av.open(str(args.out), mode="w")
        while time.monotonic() - t0 < args.seconds and (args.frames is None or n < args.frames):
            try:
                rgb = camera.capture(config.camera.capture_timeout_s)
            except EndOfStream:
                break
            h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2  # yuv420p needs even sizes
            if stream is None:
                stream = _open_stream(container, args.codec, fps, w, h)
            frame = av.VideoFrame.from_ndarray(rgb[:h, :w], format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    except CameraError as exc:
        print(f"kiosk record: {exc} (after {n} frames)", file=sys.stderr)
        return ExitCode.FAILURE
    finally:
        if container is not None:
            container.close()
        camera.close()
    if n == 0:
        args.out.unlink(missing_ok=True)
        print(f"kiosk record: {args.source} gave no frames; nothing written", file=sys.stderr)
        return ExitCode.FAILURE
    print(f"kiosk record: {n} frames at {fps:g} fps written to {args.out}")
    return ExitCode.OK
