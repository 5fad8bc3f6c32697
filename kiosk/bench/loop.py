"""`kiosk bench loop`: the whole kiosk at 1920x1080, display and pose model side by side.

The squats recording's frames, upscaled once to 1920x1080 (letterboxed) and held in memory,
each repeated to make a 30 fps camera of the same motion (the recording is 5 fps), are replayed
in real time (a camera at 30 fps) through the pose model on the CPU, an 80,000-entry index
(the demo index's entries plus synthetic poses, VP-tree search), the renderer (side by side,
1920x1080) and SDL's dummy display, the display paced at --max-fps.

--model-latency MS makes every estimate take at least MS (the real model, then a sleep): a
Pi-class CPU on this machine. --serial runs the old single-thread loop (the display waits for
the model); --compare runs both, one after the other, in the same invocation.

Printed per mode: display_fps (frames presented per second), pose_rate (estimates per second),
p95_frame_ms (95th percentile of the time between presented frames), switch_latency_ms (median
time from capturing the camera frame whose pose made the photo change to presenting the new
photo), switch_parts_ms (where that time goes: age, estimate, photo, pickup, present; see
kiosk/app/switchclock.py), composed_fraction, pacer_woken and p50/p95/min of each stage (ms;
the pose worker's also max, over its recent window). Targets (issue 10), at --model-latency 300:
display_fps >= 0.95 x max_fps, p95_frame_ms <= 1.5 / max_fps, pose_rate >= 0.9 x 1000/300,
switch latency <= 300 ms + 2 frames. Figures are printed, never asserted: timings on a shared
machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.app.priority import RENDER_NICE
from kiosk.cli import options
from kiosk.core.enums import ExitCode, FlipViews, ScaleViews, ScreenLayout
from kiosk.pose.model import PoseModel, WrappedModel

log = logging.getLogger(__name__)

HELP = "loop: display fps, pose rate, frame time and switch latency at 1920x1080 (threaded vs serial)"

RECORDING = "data/recordings/pose_squats.mp4"
#: the pose worker's stages (its own recent window): age = the frame's age when the worker took
#: it, cycle = from one frame taken to the next, between = what lies outside an estimate's stages
WORKER_STAGES = ("capture_wait", "age", "reduce", "preprocess", "invoke", "decode", "pose", "match",
                 "photo", "cycle", "between")
#: the render loop's: render (compose; its parts render_*: the photo half, the live image,
#: skeleton/hints/text, rotation), show (present), frame (the whole step, paced)
RENDER_PARTS = ("render_card", "render_camera", "render_overlay", "render_rotate")
STAGES = (*WORKER_STAGES, "decide", "render", *RENDER_PARTS, "show", "frame", "prepare")
CAMERA_FPS = 30.0


class DelayedModel(WrappedModel):
    """A pose model whose estimate takes at least `latency_s` (the real one, then a sleep that,
    like LiteRT's invoke, leaves the GIL to the other threads)."""

    def __init__(self, model: PoseModel, latency_s: float) -> None:
        super().__init__(model)
        self.latency_s = latency_s

    def estimate(self, rgb: np.ndarray, margin: float = 0.0) -> list[Any]:
        t0 = time.perf_counter()
        poses = self.model.estimate(rgb, margin)
        rest = self.latency_s - (time.perf_counter() - t0)
        if rest > 0:
            time.sleep(rest)
        self.last_timings = dict(self.model.last_timings)
        self.last_timings["invoke"] = self.last_timings.get("invoke", 0.0) + max(rest, 0.0) * 1000.0
        return poses


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=600, help="timed displayed frames (default 600)")
    parser.add_argument("--warmup", type=int, default=60, help="untimed displayed frames first (default 60)")
    parser.add_argument("--max-fps", type=int, default=60, help="display.max_fps (default 60; 0 = uncapped)")
    parser.add_argument("--model-latency", type=float, default=0.0, metavar="MS",
                        help="make every estimate take at least MS milliseconds (a slower CPU)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--serial", action="store_true",
                      help="the old single-thread loop: the display waits for the model")
    mode.add_argument("--compare", action="store_true",
                      help="run the threaded loop and the serial one, one after the other")
    parser.add_argument("--serial-frames", type=int, default=None, metavar="N",
                        help="timed frames of the serial loop (default: --frames; it goes at the model rate)")
    parser.add_argument("--entries", type=int, default=80_000, help="index size (default 80000)")
    parser.add_argument("--size", default="1920x1080", help="camera frames and screen, WxH")
    parser.add_argument("--recording", type=Path, default=None,
                        help=f"video to replay (default: <asset mirror or ../shared>/{RECORDING})")
    parser.add_argument("--index", type=Path, default=None,
                        help="base index (default: the demo index, built once)")
    parser.add_argument("--model", default="movenet-lightning", help="pose model name or .tflite path "
                        "(default: %(default)s)")
    parser.add_argument("--num-threads", type=int, default=None, help="default: model.num_threads")
    parser.add_argument("--layout", default="side_by_side", choices=ScreenLayout.values(),
                        help="screen layout, as display.layout (default: %(default)s)")
    parser.add_argument("--debug-overlay", action="store_true", help="draw the debug overlay, as "
                        "display.debug_overlay")
    parser.add_argument("--render-nice", type=int, default=RENDER_NICE, metavar="N",
                        help="threaded: the render thread's nice above the pose worker's (default "
                        "%(default)s; 0 = the same priority)")
    parser.add_argument("--scale-views", default="auto", choices=ScaleViews.values(),
                        help="as pose.scale_views (default: %(default)s: with PoseNet models)")
    parser.add_argument("--flip-views", default="auto", choices=FlipViews.values(),
                        help="as pose.flip_views (default: %(default)s: on the Edge TPU, so off"
                        " in this bench, which runs the CPU)")
    parser.add_argument("--full-frame-model", action="store_true",
                        help="give the model the full frame (no reduced copy)")
    parser.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _recording(path: Path | None) -> Path:
    if path is not None:
        return path
    from kiosk.core.paths import CHECKOUT, asset_mirror

    mirror = asset_mirror() or CHECKOUT.parent / "shared"
    return mirror / RECORDING


def load_frames(path: Path, size: tuple[int, int]) -> list[np.ndarray]:
    """Every frame of a video, letterboxed once into size (w, h), as RGB arrays."""
    import av
    from PIL import Image

    w, h = size
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            im = frame.to_image()
            s = min(w / im.width, h / im.height)
            new = (max(1, round(im.width * s)), max(1, round(im.height * s)))
            im = im.resize(new, Image.Resampling.BILINEAR)
            canvas = Image.new("RGB", (w, h))
            canvas.paste(im, ((w - im.width) // 2, (h - im.height) // 2))
            frames.append(np.asarray(canvas))
    return frames


def _video_fps(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return float(container.streams.video[0].average_rate or CAMERA_FPS)


def _base_index(path: Path | None, models_dir: Path | None) -> Any:
    """The given index, or the demo index (rebuilt once if it no longer opens: an older format)."""
    from kiosk.gallery.reader import GalleryIndex, IndexLoadError

    if path is not None:
        return GalleryIndex.open(path)
    from kiosk.gallery.demo import ensure_demo_index

    demo = ensure_demo_index(models_dir=models_dir)
    try:
        return GalleryIndex.open(demo)
    except IndexLoadError as exc:
        log.warning("the demo index does not open (%s): rebuilding it", exc)
        shutil.rmtree(demo)
        return GalleryIndex.open(ensure_demo_index(models_dir=models_dir))


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "min": float(a.min())}


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95))}


def measure(loop: Any, frames: int, warmup: int) -> dict[str, Any]:
    """Step a started loop: `warmup` frames, then `frames` timed ones; the figures."""
    from kiosk.app.switchclock import PARTS as SWITCH_PARTS

    for _ in range(warmup):
        loop.step()
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    states: dict[str, int] = {}
    intervals: list[float] = []
    latencies: list[float] = []
    parts: dict[str, list[float]] = {p: [] for p in SWITCH_PARTS}
    estimated0 = loop.worker.estimated
    woken0 = loop.pacer.woken
    composed = 0
    t0 = last = time.perf_counter()
    for _ in range(frames):
        r = loop.step()
        now = time.perf_counter()
        intervals.append((now - last) * 1000.0)
        last = now
        if "switch_latency" in r.timings:
            latencies.append(r.timings["switch_latency"])
            for p in SWITCH_PARTS:
                parts[p].append(r.timings.get(f"switch_{p}", 0.0))
        for s in STAGES:
            if s in r.timings:
                per_stage[s].append(r.timings[s])
        states[str(r.state)] = states.get(str(r.state), 0) + 1
        composed += r.composed
    wall = time.perf_counter() - t0
    worker = loop.stage_percentile(50)
    worker95 = loop.stage_percentile(95)
    worker_max = loop.stage_percentile(100)
    stages = {s: _stats(v) for s, v in per_stage.items() if v}
    for s in WORKER_STAGES:
        if s in worker and s not in stages:  # the worker's stages (its own recent window)
            stages[s] = {"p50": worker[s], "p95": worker95[s], "min": worker[s], "max": worker_max[s]}
    lat = _percentiles(latencies)
    return {
        "display_fps": frames / wall,
        "pose_rate": (loop.worker.estimated - estimated0) / wall,
        "p95_frame_ms": float(np.percentile(np.asarray(intervals), 95)),
        "switch_latency_ms": lat["p50"] if lat else None,
        "switch_latency_p95_ms": lat["p95"] if lat else None,
        "switches": len(latencies),
        # where a switch's latency goes (switchclock.py): the means add up to the mean latency
        "switch_parts_ms": {p: {"p50": float(np.median(v)), "mean": float(np.mean(v))}
                            for p, v in parts.items() if v},
        "states": states,
        "composed_fraction": composed / frames,  # the other frames presented the last picture again
        "pacer_woken": loop.pacer.woken - woken0,  # frame waits a new target ended early
        "stages_ms": stages,
        "stage_errors": dict(loop.stage_errors),
    }


def run(args: argparse.Namespace) -> int:
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    from kiosk.app.devices.camera.replay_source import ArrayReplay
    from kiosk.app.devices.display.base import open_display
    from kiosk.app.loop import MirrorLoop
    from kiosk.app.service.config import parse_config
    from kiosk.bench.bigindex import BigIndex
    from kiosk.gallery.reader import IndexLoadError
    from kiosk.pose.engine import load_pose_model

    w, h = (int(v) for v in args.size.lower().split("x"))
    recording = _recording(args.recording)
    if not recording.is_file():
        print(f"kiosk bench loop: {recording} not found; set KIOSK_ASSET_MIRROR or --recording",
              file=sys.stderr)
        return ExitCode.USAGE
    config = parse_config({
        "camera": {"width": w, "height": h, "replay_realtime": True, "replay_loop": True},
        "display": {"width": w, "height": h, "max_fps": args.max_fps, "layout": args.layout,
                    "debug_overlay": bool(args.debug_overlay)},
        # a speed benchmark: every frame's best match is shown, so the render path is timed
        "match": {"max_distance": 2.0},
        "pose": {"scale_views": args.scale_views, "flip_views": args.flip_views},
    })
    frames = load_frames(recording, (w, h))
    try:
        base = _base_index(args.index, args.models_dir)
    except IndexLoadError as exc:
        print(f"kiosk bench loop: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    index = BigIndex(base, args.entries)
    threads = args.num_threads or config.model.num_threads
    model: Any = load_pose_model(args.model, delegate="cpu", num_threads=threads, models_dir=args.models_dir)
    if args.model_latency > 0:
        model = DelayedModel(model, args.model_latency / 1000.0)
    src_fps = _video_fps(recording)
    hold = max(1, round(CAMERA_FPS / src_fps))  # the same motion, as a 30 fps camera sees it
    frames = [f for f in frames for _ in range(hold)]
    modes = ["threaded", "serial"] if args.compare else ["serial" if args.serial else "threaded"]
    results: dict[str, Any] = {}
    for mode in modes:
        display = open_display(config.display, headless=True)
        camera = ArrayReplay(frames, fps=src_fps * hold, realtime=True, loop=True,
                             name=f"replay:{recording.name}@{w}x{h}")
        loop = MirrorLoop(config, camera, model, index, display, threaded=mode == "threaded",
                          render_nice=args.render_nice)
        if args.full_frame_model:
            loop.worker.model_input = None
        loop.start()
        try:
            serial = mode == "serial" and args.serial_frames
            results[mode] = measure(loop, args.serial_frames if serial else args.frames,
                                    min(args.warmup, args.serial_frames) if serial else args.warmup)
        finally:
            loop.close()
            display.close()
        if results[mode]["stage_errors"]:  # figures of a loop whose stages fail measure nothing
            print(f"kiosk bench loop: stage errors {results[mode]['stage_errors']} (see the log above); "
                  "no figures", file=sys.stderr)
            return ExitCode.FAILURE
    result: dict[str, Any] = {
        "frames": args.frames, "size": [w, h], "entries": len(index), "max_fps": args.max_fps,
        "model_latency_ms": args.model_latency, "index_build_s": round(index.build_s, 2),
        "model": f"{model.name} on {model.delegate}, {threads} threads",
        "views": {"scale": args.scale_views, "flip": args.flip_views}, "layout": args.layout,
        "render_nice": args.render_nice,
        **results[modes[0]], "modes": results, "cpus": os.cpu_count(), "load_avg": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return ExitCode.OK
    _print(result, modes)
    return ExitCode.OK


def _print(result: dict[str, Any], modes: list[str]) -> None:
    w, h = result["size"]
    extra = f", model latency >= {result['model_latency_ms']:g} ms" if result["model_latency_ms"] else ""
    print(f"kiosk bench loop: {result['frames']} frames {w}x{h}, {result['entries']} entries, "
          f"{result['model']}{extra}, max_fps {result['max_fps']}, {result['layout']}")
    rows = ("display_fps", "pose_rate", "p95_frame_ms", "switch_latency_ms", "switch_latency_p95_ms")
    print(f"  {'':<24}" + "".join(f"{m:>12}" for m in modes))
    for key in rows:
        cells = [result["modes"][m][key] for m in modes]
        print(f"  {key:<24}" + "".join(f"{c:>12.1f}" if c is not None else f"{'-':>12}" for c in cells))
    for m in modes:
        print(f"  {m}: states {result['modes'][m]['states']}")
        print(f"    {'stage':<14}{'p50 ms':>9}{'p95 ms':>9}")
        for s, st in result["modes"][m]["stages_ms"].items():
            print(f"    {s:<14}{st['p50']:>9.2f}{st['p95']:>9.2f}")
    print(f"  load average {result['load_avg'][0]:.2f} on {result['cpus']} CPUs "
          "(a shared machine: figures are noisy)")
