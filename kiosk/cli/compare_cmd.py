"""`kiosk compare REFERENCE.jpg IMITATION.jpg [--json]`: how close an imitation is to a pose.

The main (highest-score) pose of each photo is normalised as in kiosk.match; printed are the
cosine similarity, the cosine distance sqrt(2 (1 - cos)) and Move Mirror's weighted distance,
with the imitation as the query (its keypoint confidences weigh). "mirrored" gives the same
for the imitation mirrored left/right (a visitor facing a screen often mirrors the pose).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from kiosk.cli import options
from kiosk.core.enums import Delegate, ExitCode, Preprocess

log = logging.getLogger(__name__)

HELP = "compare the main poses of two photos: cosine similarity, cosine and weighted distance"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference", metavar="A", help="photo with the reference pose")
    parser.add_argument("imitation", metavar="B", help="photo with the imitation (the query)")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="pose model: logical name or .tflite path (default: manifest default)")
    parser.add_argument("--delegate", choices=Delegate.values(), default="auto", help=options.DELEGATE)
    parser.add_argument("--preprocess", choices=Preprocess.values(), default="default",
                        help=options.PREPROCESS)
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def compare_poses(reference: Any, imitation: Any) -> dict[str, Any]:
    """Similarity figures of two Poses (imitation = query), as `kiosk compare --json` prints."""
    from kiosk.match import (
        cosine_distance,
        cosine_similarity,
        flip_vector,
        pose_vector,
        weighted_distance,
    )

    ref_vec, _ = pose_vector(reference)
    q_vec, q_conf = pose_vector(imitation)

    def figures(q: Any) -> dict[str, float]:
        return {
            "cosine_similarity": round(float(cosine_similarity(q, ref_vec)), 6),
            "cosine_distance": round(float(cosine_distance(q, ref_vec)), 6),
            "weighted_distance": round(float(weighted_distance(q, q_conf, ref_vec)), 6),
        }

    from kiosk.pose.types import FLIP_INDEX

    mirrored = figures(flip_vector(q_vec))
    # the mirrored query's confidences move with its keypoints
    mirrored["weighted_distance"] = round(float(weighted_distance(
        flip_vector(q_vec), q_conf[list(FLIP_INDEX)], ref_vec)), 6)
    return {**figures(q_vec), "mirrored": mirrored}


def run(args: argparse.Namespace) -> int:
    from kiosk.assets.fetch import FetchError, ModelNotFoundError
    from kiosk.assets.manifest import ManifestError
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.images import ImageLoadError, load_image

    try:
        model = load_pose_model(args.model, delegate=args.delegate, num_threads=args.threads,
                                preprocess=args.preprocess)
    except (ModelNotFoundError, FetchError, ManifestError, FileNotFoundError, RuntimeError,
            ValueError) as exc:
        print(f"kiosk compare: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    found = {}
    for role, image in (("reference", args.reference), ("imitation", args.imitation)):
        try:
            rgb = load_image(image)
        except ImageLoadError as exc:
            print(f"kiosk compare: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        poses = model.estimate(rgb)
        if not poses:
            print(f"kiosk compare: {image}: no person found", file=sys.stderr)
            return ExitCode.FAILURE
        found[role] = (image, rgb.shape[1], rgb.shape[0], poses[0], len(poses))
    result = compare_poses(found["reference"][3], found["imitation"][3])
    doc: dict[str, Any] = {
        role: {"image": image, "width": w, "height": h, "people": n, "pose": pose.to_dict()}
        for role, (image, w, h, pose, n) in found.items()
    }
    doc["model"] = model.name
    doc.update(result)
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return ExitCode.OK
    for role in ("reference", "imitation"):
        d = doc[role]
        print(f"{role}: {d['image']} ({d['people']} people; main pose score "
              f"{d['pose']['score']:.3f})")
    m = result["mirrored"]
    print(f"cosine similarity  {result['cosine_similarity']:.4f}   (mirrored {m['cosine_similarity']:.4f})")
    print(f"cosine distance    {result['cosine_distance']:.4f}   (mirrored {m['cosine_distance']:.4f})")
    print(f"weighted distance  {result['weighted_distance']:.4f}   (mirrored {m['weighted_distance']:.4f})")
    return ExitCode.OK
