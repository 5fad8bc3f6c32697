"""`kiosk pose IMAGE... [--model NAME|PATH] [--delegate auto|cpu|edgetpu] [--preprocess default|coral]
[--json] [--draw DIR]`: find every person's 17 keypoints in photos."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from kiosk.cli import options
from kiosk.core.enums import Delegate, ExitCode, Preprocess

log = logging.getLogger(__name__)

HELP = "find people's keypoints in photos (PoseNet / MoveNet, CPU or Edge TPU)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="photos to analyse")
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME|PATH",
        help="logical model name (see `kiosk models list`) or a .tflite path (default: the manifest default)",
    )
    parser.add_argument("--delegate", choices=Delegate.values(), default="auto", help=options.DELEGATE)
    parser.add_argument("--preprocess", choices=Preprocess.values(), default="default",
                        help=options.PREPROCESS)
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads")
    parser.add_argument("--json", action="store_true", help="print one JSON document (a list)")
    parser.add_argument("--draw", type=Path, metavar="DIR", help="write each image with skeletons")
    parser.add_argument(
        "--min-score", type=float, default=0.2, help="keypoint score drawn / listed (default 0.2)"
    )
    parser.set_defaults(func=run)


def _summary(path: str, w: int, h: int, poses: list, min_score: float) -> str:
    lines = [f"{path}: {w}x{h}, {len(poses)} pose(s)"]
    for i, p in enumerate(poses):
        x0, y0, x1, y1 = p.bbox(min_score)
        good = int(p.confident(min_score).sum())
        lines.append(
            f"  #{i} score {p.score:.3f}  bbox ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f})  "
            f"{good}/17 keypoints >= {min_score}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from kiosk.assets.fetch import FetchError, ModelNotFoundError
    from kiosk.assets.manifest import ManifestError
    from kiosk.pose.draw import save_drawing
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.images import ImageLoadError, load_image

    try:
        model = load_pose_model(
            args.model, delegate=args.delegate, num_threads=args.threads, preprocess=args.preprocess
        )
    except (ModelNotFoundError, FetchError, ManifestError, FileNotFoundError) as exc:
        print(f"kiosk pose: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except (RuntimeError, ValueError) as exc:
        print(f"kiosk pose: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    log.debug("model %s (%s) on %s", model.name, model.family, model.delegate)
    results = []
    failed = 0
    for image in args.images:
        try:
            rgb = load_image(image)
        except ImageLoadError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
            continue
        poses = model.estimate(rgb)
        h, w = rgb.shape[:2]
        results.append({"image": image, "width": w, "height": h, "poses": [p.to_dict() for p in poses]})
        if args.draw is not None:
            dest = args.draw / (Path(image).stem + ".pose.png")
            save_drawing(rgb, poses, dest, args.min_score)
        if not args.json:
            print(_summary(image, w, h, poses, args.min_score))
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 1 if failed else 0
