"""Does re-running the pose model on a person's crop (two-stage, "top-down") make archive
poses more accurate? Measured against COCO ground truth.

    python scripts/probe_topdown.py --coco person_keypoints_val2017.json --images val2017/ \
        [--model posenet-481x641] [--refiner NAME] [--pad 0.25 ...] [--json]

For every annotated person (>= 8 labelled keypoints, not a crowd) the model's detection on the
whole photo with the best OKS (>= 0.3) is the "before" pose. The refiner (default: the same
model) then runs on the detection's confident-keypoint box grown by PAD x its larger side on
every side (clipped to the photo); the crop's pose nearest the detection (the benchmark's
`the_visitor`) mapped back to the photo is the "after" pose. Reported for each pad: mean OKS,
mean keypoint error (/ the larger side of the COCO box), PCK@0.1 before and after, how many
people improved, the same for "far" people (the crop enlarged more than 2x by the refiner)
and with the crop's pose kept only when it is at least as confident as the whole photo's.
Findings: docs/match-quality.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.gallery.evalmatch import the_visitor
from kiosk.gallery.evalqueries import FAR_ENLARGEMENT, padded_box
from kiosk.pose.coco_eval import GroundTruth, load_coco_keypoints, oks
from kiosk.pose.coco_people import detected_people
from kiosk.pose.preprocess import fit_scale
from kiosk.pose.types import Pose
from kiosk.pose.views import crop


@dataclass(frozen=True)
class Pair:
    """One person: OKS, keypoint errors (labelled keypoints) and pose score, before/after."""

    oks: tuple[float, float]
    errors: tuple[np.ndarray, np.ndarray]
    score: tuple[float, float]
    enlargement: float


def refine(rgb: np.ndarray, pose: Pose, refiner: Any, pad: float) -> tuple[Pose | None, float]:
    """(the refiner's pose of this person on its padded crop, in photo pixels, or None; the
    crop's enlargement by the refiner)."""
    b = padded_box(pose, pad, rgb.shape[1], rgb.shape[0])
    img = crop(rgb, b)
    enl = fit_scale(img.shape[:2], refiner.input_size)
    found = the_visitor(refiner.estimate(img), pose.translated(-b[0], -b[1]), img.shape[:2], 0.2)
    return (None if found is None else found.translated(b[0], b[1])), enl


def errors(pose: Pose, gt: GroundTruth, g: int) -> np.ndarray:
    """Distances of the labelled keypoints to the ground truth / the larger side of its box."""
    k = gt.keypoints[g]
    lab = k[:, 2] > 0
    return np.linalg.norm(pose.xy[lab] - k[lab, :2], axis=1) / max(gt.bbox[g, 2], gt.bbox[g, 3], 1.0)


def probe(coco: Path, images: Path, model: Any, refiner: Any, pad: float) -> list[Pair]:
    pairs = []
    for p in detected_people(load_coco_keypoints(coco), images, model):
        after, enl = refine(p.rgb, p.pose, refiner, pad)
        if after is not None:
            pairs.append(Pair((p.oks, float(oks(after.xy[None], p.gt)[0, p.index])),
                              (errors(p.pose, p.gt, p.index), errors(after, p.gt, p.index)),
                              (p.pose.score, after.score), enl))
    return pairs


def summary(pairs: list[Pair]) -> dict[str, Any]:
    if not pairs:
        return {"people": 0}
    e0 = np.concatenate([p.errors[0] for p in pairs])
    e1 = np.concatenate([p.errors[1] for p in pairs])
    kept = [p for p in pairs if p.score[1] >= p.score[0]]
    return {
        "people": len(pairs), "keypoints": len(e0),
        "oks": [round(float(np.mean([p.oks[i] for p in pairs])), 3) for i in (0, 1)],
        "mean_error": [round(float(e0.mean()), 3), round(float(e1.mean()), 3)],
        "pck_0.1": [round(float(np.mean(e0 < 0.1)), 3), round(float(np.mean(e1 < 0.1)), 3)],
        "improved": sum(p.oks[1] > p.oks[0] for p in pairs),
        "kept_if_as_confident": len(kept),
        "oks_kept_if_as_confident": round(float(np.mean(
            [p.oks[1] if p.score[1] >= p.score[0] else p.oks[0] for p in pairs])), 3),
    }


def main(argv: list[str] | None = None) -> int:
    from kiosk.pose.engine import load_pose_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coco", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--model", default="posenet-481x641")
    ap.add_argument("--refiner", default=None, help="model run on the crops (default: --model)")
    ap.add_argument("--pad", type=float, action="append", help="box growth, repeat (0.25)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    model = load_pose_model(args.model, num_threads=1)
    refiner = load_pose_model(args.refiner, num_threads=1) if args.refiner else model
    out = {"model": model.name, "refiner": refiner.name, "pads": {}}
    for pad in args.pad or [0.25]:
        pairs = probe(args.coco, args.images, model, refiner, pad)
        far = [p for p in pairs if p.enlargement > FAR_ENLARGEMENT]
        out["pads"][str(pad)] = {"all": summary(pairs), "far": summary(far)}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{out['model']} on the photo, {out['refiner']} on the crop (before -> after):")
        for pad, r in out["pads"].items():
            for band, s in r.items():
                if s["people"]:
                    print(f"  pad {pad} {band:3s}: {s['people']} people, OKS {s['oks'][0]} -> {s['oks'][1]},"
                          f" error {s['mean_error'][0]} -> {s['mean_error'][1]}, PCK@0.1 {s['pck_0.1'][0]}"
                          f" -> {s['pck_0.1'][1]}, improved {s['improved']}; kept if as confident:"
                          f" {s['kept_if_as_confident']} (OKS {s['oks_kept_if_as_confident']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
