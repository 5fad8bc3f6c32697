"""`kiosk bench pose`: per-stage milliseconds of each pose model, per interpreter backend,
and the decoder-only timings the issue sets targets for.

1. For each backend (LiteRT, tflite-runtime: every one installed, or --backend) and each model:
   `PoseModel.estimate` on a real photo resized to 640x480, --runs times after a warm-up;
   median and p95 of the engine's own stage timings (preprocess, invoke, decode) and the total.
2. Decoder-only, on the raw outputs of posenet-481x641 for the same frame:
   multi-pose decode (target: median <= 1 ms on a 2-core x86 machine), single-pose decode
   (<= 0.2 ms), and preprocessing of the 640x480 frame into the 481x641 input (<= 2 ms).

Figures are printed, never asserted: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.cli import options
from kiosk.core.enums import Backend, Delegate, ExitCode, Preprocess

log = logging.getLogger(__name__)

HELP = "pose: per-stage ms (preprocess, invoke, decode) per model and runtime, decoder-only ms"

FRAME_SIZE = (480, 640)  # height, width
DECODE_MODEL = "posenet-481x641"
TARGETS_MS = {"multi-pose decode": 1.0, "single-pose decode": 0.2, "preprocess": 2.0}
DEFAULT_IMAGE = "data/coral/test_couple.jpg"  # under the asset mirror


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="append", metavar="NAME|PATH",
                        help="repeat to bench several (default: every model in the manifest)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per model (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--decoder-runs", type=int, default=300,
                        help="timed runs of each decoder-only stage (default 300)")
    parser.add_argument("--image", type=Path, default=None,
                        help="photo to use, resized to 640x480 "
                        f"(default: <asset mirror or ../shared>/{DEFAULT_IMAGE})")
    parser.add_argument("--backend", action="append", choices=Backend.values(),
                        help="interpreter backend; repeat for both (default: every installed one)")
    parser.add_argument("--delegate", default="cpu", choices=Delegate.values(), help=options.DELEGATE)
    parser.add_argument("--num-threads", type=int, default=None, help=options.NUM_THREADS)
    parser.add_argument("--preprocess", default="default", choices=Preprocess.values(),
                        help=options.PREPROCESS)
    parser.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    parser.add_argument("--no-decoders", action="store_true", help="skip the decoder-only timings")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def stats(ms: list[float]) -> dict[str, float]:
    """{"median", "p95"} of a list of milliseconds (nan if empty)."""
    if not ms:
        return {"median": float("nan"), "p95": float("nan")}
    a = np.asarray(ms, dtype=np.float64)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95))}


def time_calls(fn: Callable[[], Any], runs: int, warmup: int) -> list[float]:
    """Wall-clock milliseconds of runs calls of fn, after warmup untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def load_frame(image: Path | None) -> tuple[np.ndarray, Path]:
    """The benchmark frame: a real photo resized (bilinear) to 640x480, (480, 640, 3) uint8."""
    from PIL import Image

    from kiosk.core import paths

    if image is None:
        mirror = paths.asset_mirror() or paths.CHECKOUT.parent / "shared"
        if not (mirror / DEFAULT_IMAGE).is_file():
            raise FileNotFoundError(
                f"no photo to benchmark on ({mirror / DEFAULT_IMAGE} is missing): pass --image "
                f"PHOTO or set KIOSK_ASSET_MIRROR to a folder holding {DEFAULT_IMAGE}")
        image = mirror / DEFAULT_IMAGE
    with Image.open(image) as im:
        rgb = im.convert("RGB").resize(FRAME_SIZE[::-1], Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8), image


def bench_model(model: Any, frame: np.ndarray, runs: int, warmup: int) -> dict[str, Any]:
    """Stage timings of model.estimate(frame): {stage: {"median", "p95"}} plus poses found."""
    for _ in range(warmup):
        model.estimate(frame)
    per: dict[str, list[float]] = {"preprocess": [], "invoke": [], "decode": [], "total": []}
    poses = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        poses = len(model.estimate(frame))
        per["total"].append((time.perf_counter() - t0) * 1000.0)
        for stage in ("preprocess", "invoke", "decode"):
            per[stage].append(float(model.last_timings[stage]))
    return {"poses": poses, **{k: stats(v) for k, v in per.items()}}


def raw_outputs(frame: np.ndarray, models_dir: Path | None, backend: str | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dequantised (heatmaps, offsets, displacements) of posenet-481x641 for frame."""
    from kiosk.assets.fetch import verified_model_file
    from kiosk.assets.manifest import load_manifest
    from kiosk.pose.preprocess import prepare
    from kiosk.pose.runtime import open_runtime

    manifest = load_manifest()
    rt = open_runtime(lambda v: verified_model_file(manifest.get(DECODE_MODEL, v), models_dir),
                      delegate="cpu", has_edgetpu=False, label=DECODE_MODEL, backend=backend)
    tensor, _ = prepare(frame, rt.input_size, "default")
    outs, _ = rt.invoke(tensor)
    by_channels = {o.shape[-1]: o for o in outs}
    return by_channels[17], by_channels[34], by_channels[64]


def bench_decoders(frame: np.ndarray, runs: int, warmup: int, models_dir: Path | None,
                   backend: str | None) -> list[dict[str, Any]]:
    """Decoder-only and preprocessing timings (see module doc)."""
    from kiosk.pose.posenet_decode import decode_multiple_poses, decode_single_pose
    from kiosk.pose.preprocess import prepare

    hm, off, disp = raw_outputs(frame, models_dir, backend)
    n_poses = len(decode_multiple_poses(hm, off, disp))
    rows = [
        ("multi-pose decode", f"{DECODE_MODEL} raw outputs {hm.shape[1]}x{hm.shape[2]}, "
         f"{n_poses} poses", lambda: decode_multiple_poses(hm, off, disp)),
        ("single-pose decode", f"{DECODE_MODEL} raw outputs",
         lambda: decode_single_pose(hm, off)),
        ("preprocess", "640x480 -> 481x641 default (letterbox)",
         lambda: prepare(frame, (481, 641), "default")),
        ("preprocess", "640x480 -> 481x641 coral (stretch, nearest)",
         lambda: prepare(frame, (481, 641), "coral")),
        ("preprocess", "640x480 -> 192x192 default (MoveNet)",
         lambda: prepare(frame, (192, 192), "default")),
    ]
    out = []
    for stage, what, fn in rows:
        s = stats(time_calls(fn, runs, warmup))
        target = TARGETS_MS[stage]
        out.append({"stage": stage, "what": what, **s, "target_ms": target,
                    "meets_target": bool(s["median"] <= target)})
    return out


def _table(head: list[str], body: list[list[str]]) -> str:
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) + " |"
              for b in body]
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    def ms(s: dict[str, float]) -> str:
        return f"{s['median']:.2f} / {s['p95']:.2f}"

    head = ["backend", "model", "delegate", "input", "poses", "preprocess", "invoke", "decode",
            "total"]
    body = [[r["backend"], r["model"], r["delegate"], r["input"], str(r["poses"]),
             ms(r["preprocess"]), ms(r["invoke"]), ms(r["decode"]), ms(r["total"])]
            for r in report["models"]]
    text = [f"kiosk bench pose: {report['image']} at 640x480, {report['runs']} runs, "
            f"numpy {report['numpy']}; ms as median / p95", "", _table(head, body)]
    if report.get("decoders"):
        dec = [[d["stage"], d["what"], f"{d['median']:.3f}", f"{d['p95']:.3f}",
                f"<= {d['target_ms']:g}", "yes" if d["meets_target"] else "NO"]
               for d in report["decoders"]]
        text += ["", _table(["stage", "what", "median ms", "p95 ms", "target", "met"], dec)]
    for err in report.get("errors", []):
        text.append(f"error: {err}")
    return "\n".join(text)


def run(args: argparse.Namespace) -> int:
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.runtime import available_backends

    try:
        frame, image = load_frame(args.image)
    except (OSError, ValueError) as exc:
        print(f"kiosk bench pose: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    backends = args.backend or available_backends()
    if not backends:
        print("kiosk bench pose: no interpreter installed (pip install ai-edge-litert)",
              file=sys.stderr)
        return ExitCode.USAGE
    names = args.model
    if not names:
        from kiosk.assets.manifest import load_manifest

        names = load_manifest().names()
    report: dict[str, Any] = {"image": str(image), "runs": args.runs, "numpy": np.__version__,
                              "backends": backends, "models": [], "errors": []}
    for backend in backends:
        for name in names:
            try:
                model = load_pose_model(name, delegate=args.delegate, num_threads=args.num_threads,
                                        preprocess=args.preprocess, models_dir=args.models_dir,
                                        backend=backend)
                res = bench_model(model, frame, args.runs, args.warmup)
            except Exception as exc:  # report and go on with the other models
                report["errors"].append(f"{backend} {name}: {exc}")
                continue
            h, w = model.input_size
            report["models"].append({"backend": backend, "model": model.name,
                                     "delegate": model.delegate, "input": f"{h}x{w}", **res})
    if not args.no_decoders:
        try:
            report["decoders"] = bench_decoders(frame, args.decoder_runs, args.warmup,
                                                args.models_dir, backends[0])
        except Exception as exc:
            report["errors"].append(f"decoders: {exc}")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 1 if report["errors"] else 0
