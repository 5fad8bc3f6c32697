"""Compare two `kiosk pose --json` outputs (e.g. x86 against emulated arm64) within a tolerance.

    python scripts/compare_poses.py REFERENCE.json OTHER.json [--tolerance 0.01]

Same images, same number of poses, and each keypoint's x and y within TOLERANCE x the image's
larger side, its score within TOLERANCE. Prints the largest differences; exit 1 when over.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def differences(ref: list[dict], other: list[dict]) -> tuple[float, float, list[str]]:
    """(largest coordinate difference / image size, largest score difference, structural problems)."""
    problems: list[str] = []
    worst_xy = worst_score = 0.0
    if [r["image"].rsplit("/", 1)[-1] for r in ref] != [o["image"].rsplit("/", 1)[-1] for o in other]:
        return 0.0, 0.0, ["the two outputs are not about the same images"]
    for r, o in zip(ref, other, strict=True):
        size = max(r["width"], r["height"])
        if len(r["poses"]) != len(o["poses"]):
            problems.append(f"{r['image']}: {len(r['poses'])} poses against {len(o['poses'])}")
            continue
        for rp, op in zip(r["poses"], o["poses"], strict=True):
            worst_score = max(worst_score, abs(rp["score"] - op["score"]))
            for rk, ok in zip(rp["keypoints"], op["keypoints"], strict=True):
                if rk["name"] != ok["name"]:
                    problems.append(f"{r['image']}: keypoint {rk['name']} against {ok['name']}")
                worst_xy = max(worst_xy, abs(rk["x"] - ok["x"]) / size, abs(rk["y"] - ok["y"]) / size)
                worst_score = max(worst_score, abs(rk["score"] - ok["score"]))
    return worst_xy, worst_score, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args(argv)
    ref, other = (json.loads(p.read_text()) for p in (args.reference, args.other))
    if not ref or not any(r["poses"] for r in ref):
        print("compare_poses: the reference has no pose: nothing to compare", file=sys.stderr)
        return 1
    worst_xy, worst_score, problems = differences(ref, other)
    print(f"compare_poses: {sum(len(r['poses']) for r in ref)} poses; largest keypoint difference "
          f"{worst_xy:.5f} of the image size, largest score difference {worst_score:.5f} "
          f"(tolerance {args.tolerance})")
    for problem in problems:
        print(f"compare_poses: {problem}", file=sys.stderr)
    return 1 if problems or worst_xy > args.tolerance or worst_score > args.tolerance else 0


if __name__ == "__main__":
    sys.exit(main())
