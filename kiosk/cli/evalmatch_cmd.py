"""`kiosk eval match`: the match-quality benchmark (see docs/match-quality.md).

    kiosk eval match --images DIR [--images DIR ...] [--coco ANNOTATIONS.json]
        [--recording VIDEO] [--model NAME] [--other-model NAME] [--metric M ...] [--json]

1. The archive is built as a curator would: `kiosk index build --every-person --mirror` over
   the --images (into --work, reusing the builder's pose cache).
2. Every archive person is shown again as the kiosk meets visitors (whole, waist-up, 40%
   occluded from each of four sides, mirrored, another pose model): top-1/top-5
   self-retrieval, "matched" (top-1 within match.max_distance) and the "no match" rate with
   the person's photo (their source) left out of the archive, and with only the person left
   out, per metric; the same again for "near" and "far" people (the model enlarges a far
   person's crop more than 2x).
3. --recording: held poses, with the kiosk's own chooser (photo changes per held pose,
   moves answered within 300 ms); --seeds N holds every pose N times with other camera jitter.
4. --coco: photos of the slice without any person annotation: how many give a "visitor"
   with and without the person filter (kiosk.app.mirror.plausibility).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.cli.options import int_at_least, match_distance
from kiosk.core.enums import BandSide, ExitCode, FlipViews, ScaleViews, SizeBand, Views

if TYPE_CHECKING:
    from kiosk.pose.coco_eval import CocoKeypoints

log = logging.getLogger(__name__)

DEFAULT_OTHER_MODEL = "movenet-lightning"


def add_parser(sub: Any) -> None:
    from kiosk.match.metrics import METRICS

    p = sub.add_parser("match", help="match quality: self-retrieval, no-match, calm",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, action="append", required=True, metavar="DIR|FILE",
                   help="archive photos and videos (folders or files); repeat")
    p.add_argument("--coco", type=Path, default=None, metavar="ANNOTATIONS.json",
                   help="COCO person keypoints of the images: person-free photos test the filter")
    p.add_argument("--recording", type=Path, default=None, metavar="VIDEO",
                   help="a recording of one visitor: photo changes on held poses")
    p.add_argument("--model", default=None, help="the archive's pose model (default: the builder's)")
    p.add_argument("--views", type=Views, choices=list(Views), default=None,
                   help="how the archive's builder sees a photo's people (default: the builder's)")
    p.add_argument("--other-model", default=DEFAULT_OTHER_MODEL,
                   help=f"the other model for other_model queries and the recording ({DEFAULT_OTHER_MODEL})")
    p.add_argument("--metric", action="append", choices=METRICS, help="default: every metric")
    p.add_argument("--max-distance", type=match_distance("max_distance"), default=None,
                   help="calibrated match.max_distance (default: the config default)")
    p.add_argument("--work", type=Path, default=None, help="where the archive is built")
    p.add_argument("--models-dir", type=Path, default=None,
                   help="where the models are (default: KIOSK_MODELS_DIR, else models/)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N people")
    p.add_argument("--scale-views", choices=ScaleViews.values(), default=ScaleViews.AUTO.value,
                   help="the kiosk's pose.scale_views for queries and held poses (auto: voted over"
                        " the cycled sizes with PoseNet models; never: one model run per image)")
    p.add_argument("--flip-views", choices=FlipViews.values(), default=FlipViews.AUTO.value,
                   help="the kiosk's pose.flip_views for queries and held poses (auto: always on the"
                        " Edge TPU, else cycle; always: every image also estimated mirrored, the poses"
                        " averaged; cycle: every other size of the scale views' vote mirrored)")
    p.add_argument("--fps", type=float, default=10.0, help="kiosk pose rate for the recording (10)")
    p.add_argument("--hold", type=float, default=3.0, help="seconds a pose is held (3)")
    p.add_argument("--spacing", type=float, default=1.4, help="seconds between held frames (1.4)")
    p.add_argument("--seeds", type=int_at_least(1), default=1, metavar="N",
                   help="hold every pose N times, each with its own camera jitter (1)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=run)


def _table(title: str, cols: list[str], rows: list[tuple[str, list[str]]]) -> str:
    head = ["metric", *cols]
    body = [[name, *vals] for name, vals in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    out = [f"{title}", "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) + " |" for b in body]
    return "\n".join(out)


def format_report(doc: dict[str, Any]) -> str:
    parts = []
    kinds = doc["kinds"]
    for key, title in (("top1", "top-1 self-retrieval"), ("top5", "top-5 self-retrieval"),
                       ("matched", "top-1 and within match.max_distance"),
                       ("no_match", "'no match' with the person's photo left out"),
                       ("no_match_person", "'no match' with only the person left out")):
        rows = [(m, [f"{r[k][key]:.2f}" if k in r else "-" for k in kinds])
                for m, r in doc["retrieval"].items()]
        parts.append(_table(title, kinds, rows))
    if doc.get("by_size"):
        bs = doc["by_size"]
        for band in SizeBand:
            what = "at most" if band is SizeBand.NEAR else "more than"
            rows = [(m, [f"{r[k]['top1']:.2f}" if k in r else "-" for k in kinds])
                    for m, r in bs[band].items()]
            parts.append(_table(f"top-1, the {bs['people'][band]} people whose crop the model enlarges "
                                f"{what} {bs['far_enlargement']:g}x", kinds, rows))
    if doc.get("occluded_by_side"):
        sides = doc["occluded_by_side"]
        cols = [f"{side} ({n})" for side, n in sides["queries"].items()]
        rows = [(m, [f"{sides[side][m]:.2f}" for side in sides["queries"]]) for m in doc["retrieval"]]
        parts.append(_table("top-1 on occluded people, by the side the band covers (queries)", cols, rows))
    if doc.get("calm"):
        cols = ["changes/held 3 s (mean)", "max", "holds > 1 change", "moves", "moves <= 300 ms",
                "real moves", "real moves <= 300 ms", "blank frames", "holds held", "blank when held"]
        rows = [(m, [f"{c['changes_per_hold']:.2f}", str(c["max_changes_per_hold"]),
                     str(c["holds_over_one_change"]), str(c["moves"]),
                     _share(c["moves_answered_300ms"]), str(c["real_moves"]),
                     _share(c["real_moves_answered_300ms"]), f"{c['blank_frames']:.2f}",
                     str(c["held_by_archive"]), _share(c["blank_when_held"])])
                for m, c in doc["calm"].items()]
        parts.append(_table(f"held poses ({doc['calm_info']})", cols, rows))
    if doc.get("person_filter"):
        pf = doc["person_filter"]
        parts.append(f"person-free photos taken for a visitor ({pf['model']}): "
                     f"{pf['raw']}/{pf['images']} without the person filter, "
                     f"{pf['filtered']}/{pf['images']} with it")
    elif "person_filter" in doc:  # --coco given, none of its person-free photos in --images
        parts.append("person filter not measured: no photo the --coco file annotates without a person"
                     " is in the --images folders (give the folder of its images)")
    parts.append(f"archive {doc['archive']['entries']} entries, {doc['archive']['people']} people"
                 f" ({doc['archive']['model']}, views {doc['archive']['views']});"
                 f" other model {doc['other_model']};"
                 f" max_distance {doc['max_distance']} (calibrated);"
                 f" scale views: {_views(doc['scale_views'])};"
                 f" flip views: {_flips(doc.get('flip_views', {}))}; {doc['date']}"
                 + "".join(f"\n{line}" for line in _skipped(doc["archive"].get("skipped", []))))
    return "\n\n".join(parts)


def _share(x: float | None) -> str:
    """A share in the report's tables: two decimals, "-" where nothing was counted."""
    return "-" if x is None else f"{x:.2f}"


def _skipped(skipped: list[dict[str, str]]) -> list[str]:
    """The report's lines on files the archive's builder could not read (none: no lines)."""
    from kiosk.gallery.buildsummary import rejects_lines

    if not skipped:
        return []
    return [f"{len(skipped)} file(s) left out of the archive (unreadable):",
            *rejects_lines([(s["file"], s["reason"]) for s in skipped])]


def run(args: argparse.Namespace) -> int:
    from kiosk.app.service.config import MatchConfig
    from kiosk.gallery.atomic import NothingKept
    from kiosk.gallery.builder import BuildOptions, build, default_cache_dir
    from kiosk.gallery.evalmatch import detect_queries, evaluate
    from kiosk.gallery.evalqueries import (
        FAR_ENLARGEMENT,
        KINDS,
        archive_people,
        queries_key,
        size_band,
    )
    from kiosk.gallery.reader import GalleryIndex
    from kiosk.gallery.sources import enumerate_sources
    from kiosk.match.metrics import METRICS
    from kiosk.pose.coco_eval import load_coco_keypoints
    from kiosk.pose.engine import load_pose_model
    from kiosk.pose.flip import with_flip
    from kiosk.pose.scales import SCALES_VERSION, uses_scale_views

    metrics = args.metric or list(METRICS)
    coco = load_coco_keypoints(args.coco) if args.coco else None  # a bad file fails before the work
    max_d = args.max_distance if args.max_distance is not None else MatchConfig().max_distance
    work = args.work or default_cache_dir().parent / "evalmatch"
    opts = BuildOptions(model=args.model, models_dir=args.models_dir, every_person=True, mirror=True,
                        cache_dir=default_cache_dir(), views=args.views or BuildOptions().views)
    try:
        summary = build(args.images, work / "archive", opts, progress=False)
    except NothingKept as e:
        print(f"kiosk eval match: no person kept for the benchmark's archive from {e.sources}"
              f" source(s) and {e.frames} frame(s): --images needs photos or videos of whole"
              " people (the archive keeps whole bodies, as `kiosk index build` does by default)."
              f" Rejected:\n{e.rejected}", file=sys.stderr)
        return ExitCode.USAGE
    index = GalleryIndex.open(work / "archive")
    people = archive_people(index)[: args.limit]
    srcs, _ = enumerate_sources(args.images)
    paths = {s.name: s.path for s in srcs}
    model = load_pose_model(index.manifest["model"]["name"], models_dir=args.models_dir)
    other = load_pose_model(args.other_model, models_dir=args.models_dir)
    live, live_other = with_flip(model, args.flip_views), with_flip(other, args.flip_views)
    models = {k: (live_other if k == "other_model" else live) for k in KINDS}
    key = queries_key(index.index_id, people)
    views = "".join(f"-scales{SCALES_VERSION}-{m.name}" for m in (model, other)
                    if uses_scale_views(args.scale_views, m.family))
    views += "".join(f"{tag}-{m.name}" for m in (model, other) if (tag := _flip_tag(args, m)))
    queries = _cached_queries(work / f"queries-{model.name}-{other.name}-{key}{views}.json",
                              lambda: detect_queries(people, paths, models, scale_views=args.scale_views,
                                                     flip_views=args.flip_views))
    stats = evaluate(index, people, queries, metrics, max_d)
    bands = {i: size_band(p, model.input_size) for i, p in enumerate(people)}
    by_size = {b: {s.metric: s.to_dict()
                   for s in evaluate(index, people, [q for q in queries if bands[q.person] == b],
                                     metrics, max_d)}
               for b in SizeBand}
    doc: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"), "command": " ".join(sys.argv),
        "occluded_by_side": _by_side(index, people, queries, metrics, max_d),
        "archive": {"entries": len(index), "people": len(people), "model": model.name,
                    "views": str(opts.views), "index_id": index.index_id,
                    "build_seconds": round(summary.seconds, 1),
                    "skipped": [{"file": f, "reason": r} for f, r in summary.skipped]},
        "other_model": other.name, "max_distance": max_d, "kinds": list(KINDS),
        "scale_views": {m.name: uses_scale_views(args.scale_views, m.family) for m in (model, other)},
        "flip_views": {m.name: str(_flip_of(args, m)) for m in (model, other)},
        "retrieval": {s.metric: s.to_dict() for s in stats},
        "by_size": {"far_enlargement": FAR_ENLARGEMENT,
                    "people": {b: sum(v == b for v in bands.values()) for b in by_size},
                    **by_size},
    }
    if args.recording:
        doc.update(_calm(index, live_other, args, metrics))
    if coco is not None:
        doc["person_filter"] = _person_filter(coco, args.images, live_other)
    print(json.dumps(doc, indent=1, allow_nan=False) if args.json else format_report(doc))
    return ExitCode.OK


def _views(on: dict[str, bool]) -> str:
    """Which models' poses were voted over the cycled sizes, for the report's last line."""
    return ", ".join(f"{name} {'voted' if v else 'one run'}" for name, v in on.items())


def _flips(modes: dict[str, str]) -> str:
    """Which models' poses were flip-averaged (always) or cycled, for the report's last line."""
    return ", ".join(f"{name} {mode}" for name, mode in modes.items() if mode != FlipViews.NEVER) or "none"


def _flip_of(args: argparse.Namespace, model: Any) -> FlipViews:
    """What --flip-views does for this model: ALWAYS, CYCLE (only where scale views vote, as in
    the kiosk) or NEVER."""
    from kiosk.pose.flip import flip_mode
    from kiosk.pose.scales import uses_scale_views

    mode = flip_mode(args.flip_views, model.delegate)
    if mode is FlipViews.CYCLE and not uses_scale_views(args.scale_views, model.family):
        return FlipViews.NEVER
    return mode


def _flip_tag(args: argparse.Namespace, model: Any) -> str:
    """The cache files' mark of the model's flip views ("" when off)."""
    from kiosk.pose.flip import FLIP_VERSION

    return {FlipViews.ALWAYS: f"-flip{FLIP_VERSION}", FlipViews.CYCLE: f"-cycle{FLIP_VERSION}"}.get(
        _flip_of(args, model), "")


def _by_side(index: Any, people: list[Any], queries: list[Any], metrics: list[str],
             max_d: float) -> dict[str, Any]:
    """Occluded queries' top-1 per metric, by the side their band covers (BandSide order), with
    each side's query count under "queries"."""
    from kiosk.gallery.evalmatch import evaluate

    out: dict[str, Any] = {"queries": {}}
    for side in BandSide:
        mine = [q for q in queries if q.kind == "occluded" and q.side is side]
        if not mine:
            continue
        out["queries"][side] = len(mine)
        out[side] = {s.metric: s.to_dict()["occluded"]["top1"]
                     for s in evaluate(index, people, mine, metrics, max_d)}
    return out


def _cached_queries(path: Path, detect: Any) -> list[Any]:
    """The query poses, from path when an earlier run with this archive saved them."""
    from kiosk.gallery.cache import pose_from_list, pose_to_list
    from kiosk.gallery.evalmatch import Query

    if path.exists():
        return [Query(q["person"], q["kind"], None if q["pose"] is None else pose_from_list(q["pose"]),
                      None if q["side"] is None else BandSide(q["side"]))
                for q in json.loads(path.read_text())]
    queries = detect()
    path.write_text(json.dumps([{"person": q.person, "kind": q.kind, "side": q.side,
                                 "pose": None if q.pose is None else pose_to_list(q.pose)}
                                for q in queries]))
    return queries


def _calm(index: Any, model: Any, args: argparse.Namespace, metrics: list[str]) -> dict[str, Any]:
    from kiosk.app.evalcalm import simulate
    from kiosk.app.service.config import MatchConfig
    from kiosk.pose.scales import uses_scale_views

    holds: list[list[Any]] = []
    frame_size = (0, 0)
    for seed in range(args.seeds):  # back to back: each seed's holds are more held poses
        seeded, frame_size = _held_poses(model, args, seed)
        holds += seeded
    match = MatchConfig() if args.max_distance is None else MatchConfig(max_distance=args.max_distance)
    views = uses_scale_views(args.scale_views, model.family)
    calm = {m: simulate(index, m, holds, args.fps, match, frame_size, scale_views=views).to_dict()
            for m in metrics}
    info = (f"{len(holds)} holds of {args.hold:g} s at {args.fps:g} fps from {args.recording.name}"
            f" ({args.seeds} jitter seed{'s' if args.seeds > 1 else ''}), {model.name}")
    return {"calm": calm, "calm_info": info}


def _held_poses(model: Any, args: argparse.Namespace, seed: int) -> tuple[list[list[Any]], tuple[int, int]]:
    """The recording's held poses with this jitter seed, and the frame size (w, h); cached in
    the work folder."""
    from kiosk.app.evalcalm import held_poses
    from kiosk.gallery.builder import default_cache_dir
    from kiosk.gallery.cache import pose_from_list, pose_to_list
    from kiosk.gallery.sources import iter_video_frames
    from kiosk.pose.scales import SCALES_VERSION, ScaleCycle, uses_scale_views

    work = args.work or default_cache_dir().parent / "evalmatch"
    views = uses_scale_views(args.scale_views, model.family)
    key = (f"{args.recording.stem}-{model.name}-{args.fps:g}-{args.hold:g}-{args.spacing:g}"
           f"{f'-scales{SCALES_VERSION}' if views else ''}"
           f"{_flip_tag(args, model)}")
    cached = work / f"holds2-{key}{f'-seed{seed}' if seed else ''}.json"  # 2: with the frame size
    if cached.exists():
        doc = json.loads(cached.read_text())
        holds = [[None if p is None else pose_from_list(p) for p in h] for h in doc["holds"]]
        return holds, (int(doc["frame_size"][0]), int(doc["frame_size"][1]))
    frames = [rgb for _, rgb in iter_video_frames(args.recording, 1.0 / args.spacing)]
    holds = held_poses(frames, model, args.fps, args.hold, seed=seed,
                       scales=ScaleCycle(flips=_flip_of(args, model) is FlipViews.CYCLE) if views else None)
    frame_size = (frames[0].shape[1], frames[0].shape[0]) if frames else (0, 0)
    cached.write_text(json.dumps({"frame_size": list(frame_size), "holds": [
        [None if p is None else pose_to_list(p) for p in h] for h in holds]}))
    return holds, frame_size


def _person_filter(coco: CocoKeypoints, images: list[Path], model: Any) -> dict[str, Any]:
    """The person filter on the annotation file's person-free images,
    each looked for in the --images folders ({} when none is found there)."""
    from kiosk.app.mirror.plausibility import person_problem
    from kiosk.gallery.evalmatch import person_free_rate

    folders = [p for p in images if p.is_dir()]
    free = []
    for im in coco.images:
        if len(coco.gt[im.id]) > 0:
            continue  # a person is annotated
        found = [f / im.file_name for f in folders if (f / im.file_name).is_file()]
        if found:
            free.append(found[0])
    if not free:
        return {}
    raw, n = person_free_rate(free, model, lambda p, w, h: p.score >= 0.25)
    filt, _ = person_free_rate(free, model,
                               lambda p, w, h: p.score >= 0.25 and person_problem(p, w, h) is None)
    return {"model": model.name, "images": n, "raw": raw, "filtered": filt}
