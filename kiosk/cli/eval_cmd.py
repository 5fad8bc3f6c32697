"""`kiosk eval pose`: the COCO keypoint metric (OKS AP, AP50, AP75, AR) and PCK@0.2 per model.

    kiosk eval pose --coco person_keypoints_val2017.json --images val2017/
        [--model NAME|PATH ...] [--preprocess default|coral ...] [--delegate auto|cpu|edgetpu] [--json]

Every image listed in the annotation file is run through each model (x each preprocess mode) and
scored with kiosk.pose.coco_eval (pycocotools' algorithm, maxDets 20, area "all").
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from kiosk.cli import options
from kiosk.core.enums import Delegate, ExitCode, Preprocess

log = logging.getLogger(__name__)

HELP = ("evaluate: pose (COCO keypoint AP and PCK@0.2), match (retrieval, no-match, calm), "
        "resampling (score spread between input fittings)")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    p = sub.add_parser("pose", help="COCO keypoint AP and PCK@0.2 of pose models",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coco", type=Path, required=True, metavar="ANNOTATIONS.json",
                   help="COCO person keypoint annotations (e.g. person_keypoints_val2017.json)")
    p.add_argument("--images", type=Path, required=True, metavar="DIR",
                   help="folder holding the annotated images (file_name in the JSON)")
    p.add_argument("--model", action="append", metavar="NAME|PATH",
                   help="model name or .tflite path; repeat to compare (default: the default model)")
    p.add_argument("--preprocess", action="append", choices=Preprocess.values(),
                   help="preprocessing; repeat to evaluate both (default: default)")
    p.add_argument("--delegate", default="auto", choices=Delegate.values(), help=options.DELEGATE)
    p.add_argument("--num-threads", type=int, default=None, help=options.NUM_THREADS)
    p.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the first N images (by id) of the annotation file")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)
    from kiosk.cli import evalmatch_cmd, evalresample_cmd

    evalmatch_cmd.add_parser(sub)
    evalresample_cmd.add_parser(sub)


def evaluate_model(model: Any, dataset: Any, images_dir: Path) -> tuple[Any, dict[str, Any]]:
    """Run model on every image of dataset; returns (CocoKeypointResult, run info)."""
    from kiosk.pose.coco_eval import Detections, evaluate
    from kiosk.pose.images import ImageLoadError, load_image

    detections: dict[int, Detections] = {}
    failed: list[str] = []
    ms: list[float] = []
    for im in dataset.images:
        path = images_dir / im.file_name
        try:
            rgb = load_image(path)
        except ImageLoadError as exc:
            print(exc, file=sys.stderr)  # names the file and the reason
            failed.append(im.file_name)
            continue
        except OSError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failed.append(im.file_name)
            continue
        t0 = time.perf_counter()
        poses = model.estimate(rgb)
        ms.append((time.perf_counter() - t0) * 1000.0)
        detections[im.id] = Detections.from_poses(poses)
    if failed:  # score only what could be read
        keep = tuple(im for im in dataset.images if im.file_name not in set(failed))
        dataset = type(dataset)(keep, {im.id: dataset.gt[im.id] for im in keep})
    result = evaluate(dataset, detections)
    info = {"ms_per_image": statistics.median(ms) if ms else float("nan"), "failed": failed}
    return result, info


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    head = ("model", "preprocess", "delegate", "images", "people", "dets", "AP", "AP50", "AP75",
            "AR", "PCK@0.2", "ms/img")
    body = [
        (r["model"], r["preprocess"], r["delegate"], str(r["images"]), str(r["people"]),
         str(r["detections"]), _fmt(r["AP"]), _fmt(r["AP50"]), _fmt(r["AP75"]), _fmt(r["AR"]),
         _fmt(r["PCK@0.2"]), _fmt(r["ms_per_image"], 1))
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) + " |"
              for b in body]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from kiosk.pose.coco_eval import load_coco_keypoints
    from kiosk.pose.engine import load_pose_model

    try:
        dataset = load_coco_keypoints(args.coco)
    except OSError as exc:
        print(f"{args.coco}: cannot read COCO annotations: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.USAGE
    except ValueError as exc:  # names the file and what it should be
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    if args.limit is not None:
        dataset = dataset.subset(args.limit)
    if not args.images.is_dir():
        print(f"{args.images}: not a directory", file=sys.stderr)
        return ExitCode.USAGE
    rows: list[dict[str, Any]] = []
    status = ExitCode.OK
    for name in args.model or [None]:
        for mode in args.preprocess or ["default"]:
            try:
                model = load_pose_model(name, delegate=args.delegate, num_threads=args.num_threads,
                                        preprocess=mode, models_dir=args.models_dir)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                print(f"{name or 'default model'}: {exc}", file=sys.stderr)
                status = ExitCode.FAILURE
                continue
            log.debug("evaluating %s (%s) on %d images", model.name, mode, len(dataset.images))
            result, info = evaluate_model(model, dataset, args.images)
            status = status or (ExitCode.FAILURE if info["failed"] else ExitCode.OK)
            rows.append({"model": model.name, "family": model.family, "preprocess": mode,
                         "delegate": model.delegate, "sha256": model.sha256,
                         **result.to_dict(), "ms_per_image": round(info["ms_per_image"], 2),
                         "failed_images": info["failed"]})
    if args.json:
        print(json.dumps(rows, indent=2))
    elif rows:
        print(format_table(rows))
        print(f"\nCOCO keypoints: OKS AP over .50:.05:.95 (maxDets 20, area all) on "
              f"{args.coco.name}; PCK@0.2: keypoints within 0.2 x max(bbox w, h) of the matched "
              "person; ms/img: median estimate() wall time.")
    return status
