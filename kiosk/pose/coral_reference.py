"""Compare the numpy PoseNet decoder with Coral's reference outputs (its own accuracy test).

    python3 -m kiosk.pose.coral_reference [--mirror ../shared] [--models-dir DIR]

For each decoder-stripped ``posenet-<size>`` CPU model: test_couple.jpg is stretched to the input
with nearest neighbour (as Coral did), the raw outputs are decoded in numpy, and the poses are
compared, in order, with ``data/coral/*_quant_decoder_reference.csv`` (coordinates in pixels of the
resized input). Coral accepts a keypoint within 4.0 px and 0.1 score of the reference.
"""

from __future__ import annotations

import argparse
import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.pose.types import KEYPOINT_NAMES

log = logging.getLogger(__name__)

SIZES = ("353x481", "481x641", "721x1281")
PX_TOL = 4.0
SCORE_TOL = 0.1


@dataclass(frozen=True)
class ReferencePose:
    score: float
    xy: np.ndarray  # (17, 2) (x, y) pixels of the resized input
    scores: np.ndarray  # (17,)


@dataclass(frozen=True)
class Comparison:
    model: str
    poses: int
    reference_poses: int
    max_px: float  # worst keypoint distance, px of the model input
    max_score: float  # worst keypoint score difference
    max_pose_score: float

    @property
    def ok(self) -> bool:
        return self.poses == self.reference_poses and self.max_px <= PX_TOL and self.max_score <= SCORE_TOL


def reference_csv(shared: Path, size: str, edgetpu: bool = False) -> Path:
    h, w = size.split("x")
    tpu = "_edgetpu" if edgetpu else ""
    name = f"posenet_mobilenet_v1_075_{h}_{w}_quant_decoder{tpu}_reference.csv"
    return shared / "data" / "coral" / name


def read_reference(path: Path) -> list[ReferencePose]:
    rows_by_pose: dict[int, list[dict[str, str]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows_by_pose.setdefault(int(row["pose_id"]), []).append(row)
    out = []
    for pid in sorted(rows_by_pose):
        rows = rows_by_pose[pid]
        labels = [r["keypoint_label"] for r in rows]
        if labels != [n.upper() for n in KEYPOINT_NAMES]:
            raise ValueError(f"{path}: pose {pid} keypoints are not COCO-17 in order: {labels}")
        xy = np.array([[float(r["keypoint_x"]), float(r["keypoint_y"])] for r in rows])
        scores = np.array([float(r["keypoint_score"]) for r in rows])
        out.append(ReferencePose(float(rows[0]["pose_score"]), xy, scores))
    return out


def compare(size: str, shared: Path, models_dir: Path | None = None, coral_quirk: bool = False) -> Comparison:
    """Decode test_couple.jpg with posenet-<size> (CPU, stripped) and compare with Coral's CSV."""
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.images import load_image
    from kiosk.pose.posenet_decode import decode_multiple_poses
    from kiosk.pose.preprocess import prepare

    model = load_pose_model(f"posenet-{size}", delegate="cpu", models_dir=models_dir)
    rgb = load_image(shared / "data" / "coral" / "test_couple.jpg")
    tensor, _ = prepare(rgb, model.input_size, "coral")
    hm, off, disp, _ = model.raw_outputs(tensor)  # type: ignore[attr-defined]
    poses = decode_multiple_poses(hm, off, disp, coral_quirk=coral_quirk)
    ref = read_reference(reference_csv(shared, size))
    max_px = max_score = max_pose = 0.0
    for got, want in zip(poses, ref, strict=False):
        max_px = max(max_px, float(np.linalg.norm(got.xy - want.xy, axis=1).max()))
        max_score = max(max_score, float(np.abs(got.scores - want.scores).max()))
        max_pose = max(max_pose, abs(got.score - want.score))
    return Comparison(f"posenet-{size}", len(poses), len(ref), max_px, max_score, max_pose)


def main(argv: list[str] | None = None) -> int:
    from kiosk.core import paths

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mirror", type=Path, default=paths.asset_mirror() or paths.CHECKOUT.parent / "shared"
    )
    parser.add_argument("--models-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    ok = True
    print(f"{'model':18s} poses ref  max px  max kp score  max pose score  within Coral's tolerance")
    for size in SIZES:
        c = compare(size, args.mirror, args.models_dir)
        ok &= c.ok
        print(
            f"{c.model:18s} {c.poses:5d} {c.reference_poses:3d}  {c.max_px:6.2f}  {c.max_score:12.3f}"
            f"  {c.max_pose_score:14.4f}  {'yes' if c.ok else 'NO'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
