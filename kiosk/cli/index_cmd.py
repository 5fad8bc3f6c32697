"""`kiosk index build|verify|inspect|report|query|demo`: the gallery builder and index tools."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.cli import options
from kiosk.core.enums import ExitCode, Metric, Views
from kiosk.core.printable import printable
from kiosk.match.metrics import DEFAULT_METRIC

if TYPE_CHECKING:
    from kiosk.app.service.threshold import MatchThreshold
    from kiosk.gallery.query import QueryResult
    from kiosk.gallery.reader import GalleryIndex

log = logging.getLogger(__name__)

HELP = "gallery index: build from photos/videos, verify, inspect, report, query, demo"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    b = sub.add_parser("build", help="build an index from image/video files and folders")
    b.add_argument("sources", nargs="+", metavar="SOURCE", help="image/video files or folders")
    b.add_argument("-o", "--out", required=True, type=Path, metavar="OUT_DIR",
                   help="the index directory to write (replaced atomically when the build succeeds)")
    b.add_argument("--fps", type=float, default=2.0, help="video sampling rate (default 2; 0: all)")
    b.add_argument("--model", default=None, help="pose model (default: the engine's default)")
    b.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    b.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    b.add_argument("--every-person", action="store_true",
                   help="each person is an entry (default: the dominant person only)")
    b.add_argument("--mirror", action="store_true", help="add mirrored entries")
    from kiosk.gallery.builder import BuildOptions
    from kiosk.pose.views import PADS

    n_crops = 2 * len(PADS)
    b.add_argument("--views", type=Views, choices=list(Views), default=BuildOptions().views,
                   help="how each person of a photo is seen (video frames: always once): crops"
                   f" (default: the median of the photo's pose and the model's poses on {n_crops}"
                   f" person-centred crops, {n_crops + 1} model runs per person; closer to how a kiosk"
                   " camera sees visitors) or photo (one model run per photo)")
    b.add_argument("--display-size", default="960x1080", metavar="WxH",
                   help="rendition size (default 960x1080: half a 1920x1080 screen)")
    b.add_argument("--format", choices=("jpeg", "webp"), default="jpeg",
                   help="rendition file format (default: %(default)s)")
    b.add_argument("--quality", type=int, default=88, help="rendition quality 1-100 (default: %(default)s)")
    b.add_argument("--metadata", type=Path, action="append", default=[], metavar="FILE",
                   help="CSV/YAML sidecar: source,title,credit,licence,link (repeatable)")
    b.add_argument("--cache-dir", type=Path, default=None,
                   help="extraction cache (default: $KIOSK_CACHE_DIR/builder)")
    b.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    b.add_argument("--max-upscale", type=float, default=0.0, metavar="FACTOR",
                   help="refuse entries whose rendition is blown up more than FACTOR times from the"
                        " source pixels (e.g. 2; default 0: keep them, with a warning above 2)")
    b.add_argument("--skip-still", type=float, default=0.0, metavar="GREY",
                   help="skip video frames whose 32x32 grey thumbnail differs from the last frame"
                   " the model ran on by less than GREY levels (mean abs., 0-255; 0: off; try 1-2)")
    from kiosk.gallery.builder import Engine
    from kiosk.gallery.sampling import DEFAULT_CHUNK_FRAMES

    e = b.add_argument_group("engine")
    e.add_argument("--engine", type=Engine, choices=list(Engine), default=Engine.LOCAL,
                   help="local worker processes (default) or a Ray cluster (pip install '.[cluster]')")
    e.add_argument("--address", default=None, metavar="HOST:PORT",
                   help="Ray cluster to use with --engine ray (default: RAY_ADDRESS or a new local one)")
    e.add_argument("--chunk-frames", type=int, default=DEFAULT_CHUNK_FRAMES, metavar="N",
                   help=f"sampled video frames per unit of work (default {DEFAULT_CHUNK_FRAMES})")
    f = b.add_argument_group("filters")
    from kiosk.gallery.extract import Filters

    d = Filters()
    f.add_argument("--min-pose-score", type=float, default=d.min_pose_score,
                   help="drop poses scored below this (default: %(default)s)")
    f.add_argument("--keypoint-score", type=float, default=d.keypoint_score,
                   help="a keypoint is confident at or above this score")
    f.add_argument("--min-keypoints", type=int, default=d.min_keypoints,
                   help="drop poses with fewer confident keypoints (default: %(default)s)")
    f.add_argument("--partial-body", action="store_true",
                   help="do not require a full body (head, shoulders, hips, knees, ankles)")
    f.add_argument("--min-person-height", type=float, default=d.min_person_height,
                   help="person height / frame height")
    f.add_argument("--min-person-px", type=float, default=d.min_person_px,
                   help="drop people shorter than this many pixels (default: %(default)s)")
    f.add_argument("--dedupe-distance", type=float, default=d.dedupe_distance,
                   help="within a source, drop poses closer than this to a kept one (0: off)")
    b.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=run_build)

    v = sub.add_parser("verify", help="check format version, every checksum and the counts")
    v.add_argument("dir", type=Path, metavar="DIR", help=options.INDEX_DIR)
    v.set_defaults(func=run_verify)

    i = sub.add_parser("inspect", help="manifest and counts; contact sheet; coverage map")
    i.add_argument("dir", type=Path, metavar="DIR", help=options.INDEX_DIR)
    i.add_argument("--json", action="store_true", help="print the manifest and counts as JSON")
    i.add_argument("--query", nargs="+", type=Path, metavar="IMAGE", default=None,
                   help="draw a contact sheet of these photos and their nearest entries (needs --out)")
    i.add_argument("--coverage", action="store_true", help="draw the coverage map")
    i.add_argument("--out", type=Path, help="output PNG (sheet or map)")
    i.add_argument("--k", type=int, default=3, help=options.K)
    i.add_argument("--model", default=None, help="pose model for --query (default: the model the "
                   "index was built with)")
    i.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    _threshold_args(i)
    i.set_defaults(func=run_inspect)

    r = sub.add_parser("report", help="a self-contained HTML page: rejects, warnings, coverage, holes")
    r.add_argument("dir", type=Path, metavar="DIR", help="a built index directory")
    r.add_argument("-o", "--out", type=Path, required=True, metavar="FILE.html", help="the page to write")
    r.add_argument("--query", nargs="+", type=Path, metavar="IMAGE", default=[],
                   help="photos to show contact sheets for (their nearest entries)")
    r.add_argument("--k", type=int, default=4, help="entries per contact sheet row (default 4)")
    r.add_argument("--reference", choices=("auto", "mirror", "synth"), default="auto",
                   help="reference visitor poses for the holes: derived from the asset mirror's"
                        " recording and COCO ground truth (mirror), synthesized (synth), or the"
                        " mirror when present (auto, the default)")
    r.add_argument("--mirror", type=Path, default=None, metavar="DIR",
                   help="asset mirror for --reference (default: $KIOSK_ASSET_MIRROR)")
    r.add_argument("--model", default=None, help="pose model for --query (default: the index's)")
    r.add_argument("--models-dir", type=Path, default=None, help="where the models are")
    _threshold_args(r)
    r.set_defaults(func=run_report)

    q = sub.add_parser("query", help="top-k entries for the main pose of each photo")
    q.add_argument("dir", type=Path, metavar="DIR", help=options.INDEX_DIR)
    q.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photos to find the nearest "
                   "entries for (the main person of each)")
    q.add_argument("--k", type=int, default=3, help=options.K)
    q.add_argument("--metric", choices=Metric.values(), default=None,
                   help="pose distance (docs/match-quality.md; default: the configuration's"
                        f" index.metric, {DEFAULT_METRIC} unless set)")
    q.add_argument("--json", action="store_true", help="print the matches as JSON")
    q.add_argument("--model", default=None, help="default: the model the index was built with")
    q.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    _threshold_args(q)
    q.set_defaults(func=run_query)

    m = sub.add_parser("demo", help="build (once) the demo index from the sample photos/video")
    m.add_argument("-o", "--out", type=Path, default=None,
                   help="default: $KIOSK_CACHE_DIR/demo-index")
    m.add_argument("--models-dir", type=Path, default=None, help=options.MODELS_DIR)
    m.set_defaults(func=run_demo)


def _threshold_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="kiosk configuration whose match threshold is marked (default: the one"
                        " `kiosk run` reads)")
    p.add_argument("--threshold", type=float, default=None,
                   help="mark this match distance instead of the configuration's")


def _threshold(args: argparse.Namespace, index: Any = None, metric: str | None = None) -> MatchThreshold:
    """The threshold the tools mark: --threshold (one raw distance), else the kiosk
    configuration's (raw distances of the index, per visible profile), for `metric` (default:
    the configuration's)."""
    from kiosk.app.service.threshold import MatchThreshold, match_threshold

    t = match_threshold(args.config, index, metric)
    if args.threshold is None:
        return t
    if not 0 < args.threshold < float("inf"):
        raise ValueError(f"--threshold {args.threshold}: give a match distance > 0")
    return MatchThreshold(t.metric, args.threshold, "--threshold")


def run_build(args: argparse.Namespace) -> int:
    from kiosk.gallery.builder import BuildError, BuildOptions, Engine, build, default_cache_dir
    from kiosk.gallery.extract import Filters
    from kiosk.gallery.metadata import MetadataError
    from kiosk.gallery.rendition import RenditionSpec, parse_size
    from kiosk.gallery.sources import SourceError

    try:
        size = parse_size(args.display_size)
    except ValueError as e:
        print(f"kiosk index build: {e}", file=sys.stderr)
        return ExitCode.USAGE
    if args.workers < 1:
        print("kiosk index build: --workers must be >= 1", file=sys.stderr)
        return ExitCode.USAGE
    if not args.max_upscale >= 0:
        print("kiosk index build: --max-upscale must be >= 0 (0: no limit)", file=sys.stderr)
        return ExitCode.USAGE
    if args.skip_still < 0 or args.chunk_frames < 1:
        print("kiosk index build: --skip-still must be >= 0 and --chunk-frames >= 1", file=sys.stderr)
        return ExitCode.USAGE
    if args.address and args.engine is not Engine.RAY:
        print("kiosk index build: --address needs --engine ray", file=sys.stderr)
        return ExitCode.USAGE
    options = BuildOptions(
        fps=args.fps if args.fps > 0 else None,
        model=args.model,
        models_dir=args.models_dir,
        workers=args.workers,
        every_person=args.every_person,
        mirror=args.mirror,
        filters=Filters(
            min_pose_score=args.min_pose_score,
            keypoint_score=args.keypoint_score,
            min_keypoints=args.min_keypoints,
            full_body=not args.partial_body,
            min_person_height=args.min_person_height,
            min_person_px=args.min_person_px,
            dedupe_distance=args.dedupe_distance,
        ),
        spec=RenditionSpec(size=size, fmt=args.format, quality=args.quality),
        metadata=tuple(args.metadata),
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
        max_upscale=args.max_upscale,
        engine=args.engine,
        ray_address=args.address,
        still_threshold=args.skip_still,
        chunk_frames=args.chunk_frames,
        views=args.views,
    )
    try:
        summary = build(args.sources, args.out, options, progress=not args.quiet)
    except (BuildError, SourceError, MetadataError) as e:
        print(f"kiosk index build: {e}", file=sys.stderr)
        return ExitCode.USAGE
    print(summary.format(), file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=1))
    return ExitCode.OK


def run_verify(args: argparse.Namespace) -> int:
    from kiosk.gallery.verify import inspect_index

    data, found = inspect_index(args.dir, deep=True)
    for p in found:
        print(printable(f"{args.dir}: {p}"), file=sys.stderr)  # names from the disk
    if data is None:
        print(printable(f"FAIL: {len(found)} problem(s) in {args.dir}"), file=sys.stderr)
        return ExitCode.FAILURE
    m = data.manifest
    print(f"OK: index {m['index_id']}, {len(data.entries)} entries,"
          f" {len(m['files'])} files verified")
    return ExitCode.OK


def _open(path: Path) -> GalleryIndex:
    from kiosk.gallery.reader import GalleryIndex

    return GalleryIndex.open(path)


def run_inspect(args: argparse.Namespace) -> int:
    from kiosk.app.service.config import ConfigError
    from kiosk.gallery import inspect
    from kiosk.gallery.reader import IndexLoadError

    try:
        index = _open(args.dir)
        threshold = _threshold(args, index)
    except (IndexLoadError, ConfigError, ValueError) as e:
        print(f"kiosk index inspect: {e}", file=sys.stderr)
        return ExitCode.FAILURE
    if (args.query or args.coverage) and not args.out:
        print("kiosk index inspect: --query/--coverage need --out FILE.png", file=sys.stderr)
        return ExitCode.USAGE
    if args.query:
        from kiosk.gallery.query import load_query_model, query_images

        model = load_query_model(index, args.model, args.models_dir)
        results = query_images(index, args.query, model, k=args.k, metric=threshold.metric)
        inspect.contact_sheet(index, results, args.out, threshold.raw)
        print(f"contact sheet: {args.out}", file=sys.stderr)
    elif args.coverage:
        stats = inspect.coverage_map(index, args.out, threshold.max_distance)
        print(f"coverage map: {args.out} ({stats})", file=sys.stderr)
    info = inspect.summary(index)
    if args.json:
        print(json.dumps(info, indent=1))
    elif not (args.query or args.coverage):
        c = info["counts"]
        print(f"index {info['index_id']} ({info['path']})")
        print(f"  built by {info['builder_version']} on {info['created']}")
        print(f"  model {info['model']['name']} sha256 {info['model']['sha256'][:12]}…")
        print(f"  entries {c['entries']} (mirrored {c['mirrored_entries']}) from"
              f" {c['sources_indexed']} sources, {c['frames_seen']} frames")
        print(f"  display size {info['display_size'][0]}x{info['display_size'][1]}")
        for reason, n in c["discarded"].items():
            print(f"  discarded {n:5d} {reason}")
    return ExitCode.OK


def run_report(args: argparse.Namespace) -> int:
    from kiosk.app.service.config import ConfigError
    from kiosk.core.paths import asset_mirror
    from kiosk.gallery import report
    from kiosk.gallery.reader import IndexLoadError
    from kiosk.gallery.report.reference import ReferenceError, ReferenceSource, reference_set

    try:
        index = _open(args.dir)
        threshold = _threshold(args, index)
        ref = reference_set(ReferenceSource(args.reference), args.mirror or asset_mirror())
    except (IndexLoadError, ConfigError, ReferenceError, ValueError) as e:
        print(f"kiosk index report: {e}", file=sys.stderr)
        return ExitCode.FAILURE
    results = []
    if args.query:
        from kiosk.gallery.query import load_query_model, query_images

        model = load_query_model(index, args.model, args.models_dir)
        results = query_images(index, args.query, model, k=args.k, metric=threshold.metric)
    out = report.write(report.ReportInput(index, threshold.raw, threshold.metric, ref, results), args.out)
    print(f"report: {out} (threshold {threshold.max_distance:.3f} for a whole body, {threshold.metric};"
          f" reference poses {ref.origin})", file=sys.stderr)
    return ExitCode.OK


def run_query(args: argparse.Namespace) -> int:
    from kiosk.app.service.config import ConfigError
    from kiosk.gallery.query import load_query_model, query_images
    from kiosk.gallery.reader import IndexLoadError

    try:
        index = _open(args.dir)
        threshold = _threshold(args, index, args.metric)
    except (IndexLoadError, ConfigError, ValueError) as e:
        print(f"kiosk index query: {e}", file=sys.stderr)
        return ExitCode.FAILURE
    model = load_query_model(index, args.model, args.models_dir)
    results = query_images(index, args.images, model, k=args.k, metric=threshold.metric)
    unreadable = [r for r in results if r.rgb is None]  # missing or broken image files
    for r in unreadable:
        print(printable(f"kiosk index query: {r.error}"), file=sys.stderr)
    code = ExitCode.FAILURE if unreadable else ExitCode.OK
    if args.json:
        print(json.dumps([r.to_dict(index, threshold.raw) for r in results], indent=1))
        return code
    for r in results:
        print("\n".join(_query_lines(index, r, threshold)))
    return code


def _query_lines(index: GalleryIndex, r: QueryResult, threshold: MatchThreshold) -> list[str]:
    """One query's text: the image (and what went wrong), its matches, the kiosk's answer."""
    from kiosk.gallery.query import seen

    if r.rgb is None:  # unreadable: its error names the file
        return [printable(r.error or r.image)]
    lines = [printable(r.image + (f": {r.error}" if r.error else ""))]  # names from the disk
    for m in r.matches:
        entry = index.entry(m.entry_id)
        t = "" if entry.frame_time is None else f" @{entry.frame_time:.2f}s"
        mir = " (mirrored)" if entry.mirrored else ""
        lines.append(f"  #{m.entry_id:<6d} {m.distance:.4f}  {printable(entry.source)}{t}{mir}")
    if r.pose is None or r.error:
        return lines
    limit = threshold.raw(r.profile)
    shown = r.shown(threshold.raw)
    answer = (f"shows #{shown.entry_id}" if shown is not None
              else '"No good match": the archive holds no pose this near')
    lines.append(f"  kiosk: {answer} (seen: {seen(r.profile)}; threshold {limit:.4f},"
                 f" {threshold.metric})")
    return lines


def run_demo(args: argparse.Namespace) -> int:
    from kiosk.gallery.builder import BuildError
    from kiosk.gallery.demo import DemoAssetError, ensure_demo_index

    try:
        path = ensure_demo_index(args.out, models_dir=args.models_dir, progress=True)
    except (DemoAssetError, BuildError) as e:
        print(f"kiosk index demo: {e}", file=sys.stderr)
        return ExitCode.FAILURE
    print(path)
    return ExitCode.OK
