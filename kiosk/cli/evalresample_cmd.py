"""`kiosk eval resampling`: how far a model's keypoint scores move with the input fitting alone.

    kiosk eval resampling (--video VIDEO | --images DIR|FILE ...) [--model NAME|PATH] [--json]

Every frame is given to the model four ways (kiosk/pose/resampling.py): letterboxed (the
kiosk's default), and stretched with nearest, bilinear and antialiasing (Lanczos) filters.
Printed per pair of fittings: the largest, 95th-percentile and mean |score difference| of the
same keypoint of the main pose. A reference made with another fitting than ours (Coral's are
stretched) can differ by this much without any decoding difference.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.cli import options
from kiosk.core.enums import ExitCode

log = logging.getLogger(__name__)

def add_parser(sub: Any) -> None:
    p = sub.add_parser("resampling", help="keypoint score spread between input fittings "
                       "(letterbox, stretch nearest/bilinear/antialias)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", type=Path, default=None, help="every frame of a video")
    src.add_argument("--images", type=Path, action="append", metavar="DIR|FILE",
                     help="photos (folders or files); repeat")
    p.add_argument("--model", default="movenet-lightning", metavar="NAME|PATH",
                   help="pose model (default: %(default)s, the model of Coral's squat reference; "
                   "the kiosk's own default is models/manifest.yaml's)")
    p.add_argument("--num-threads", type=int, default=None, help=options.NUM_THREADS)
    p.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def _frames(paths: list[Path]) -> Iterator[np.ndarray]:
    """Every frame of the photos and videos under paths, read as the index builder reads them
    (kiosk.gallery.sources: EXIF orientation, video rotation); unreadable files are skipped
    with a warning naming them."""
    from kiosk.gallery.sources import SourceError, enumerate_sources, iter_frames

    sources, skipped = enumerate_sources(paths)
    for s in skipped:
        log.warning("skipping %s: %s", s.name, s.reason)
    for source in sources:
        try:
            for _, rgb in iter_frames(source, None):
                yield rgb
        except SourceError as exc:
            log.warning("skipping %s", exc)


def run(args: argparse.Namespace) -> int:
    from kiosk.assets.fetch import FetchError, ModelNotFoundError
    from kiosk.assets.manifest import ManifestError
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.resampling import measure

    inputs: list[Path] = [args.video] if args.video else args.images
    missing = [p for p in inputs if not p.exists()]
    if missing:
        print(f"kiosk eval resampling: {missing[0]} not found", file=sys.stderr)
        return ExitCode.USAGE

    def load(preprocess: str) -> Any:
        return load_pose_model(args.model, delegate="cpu", preprocess=preprocess,
                               num_threads=args.num_threads, models_dir=args.models_dir)

    try:
        table, pairs = measure(load, _frames(inputs))
    except (ModelNotFoundError, FetchError, ManifestError) as exc:
        print(f"kiosk eval resampling: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if not len(table):
        from kiosk.gallery.sources import IMAGE_EXTS, VIDEO_EXTS

        print("kiosk eval resampling: no frame could be read; give readable photos or videos "
              f"({' '.join(sorted(IMAGE_EXTS | VIDEO_EXTS))})", file=sys.stderr)
        return ExitCode.FAILURE
    result = {"model": args.model, "frames": len(table), "pairs": [s.to_dict() for s in pairs]}
    if args.json:
        print(json.dumps(result, indent=2))
        return ExitCode.OK
    print(f"{args.model}, {len(table)} frames: |keypoint score difference| between fittings")
    print(f"  {'fitting a':<18}{'fitting b':<19}{'max':>6}{'p95':>6}{'mean':>7}")
    for s in pairs:
        print(f"  {s.a:<18}{s.b:<19}{s.max:>6.2f}{s.p95:>6.2f}{s.mean:>7.3f}")
    return ExitCode.OK
