#!/usr/bin/env python3
"""The curator report of a sample gallery of drawn figures (no photos, nothing from ../shared):
    .venv/bin/python scripts/curator_sample.py OUT_DIR
writes OUT_DIR/photos (with broken files), OUT_DIR/index and OUT_DIR/report.html (reference poses
synthesized, the kiosk configuration's threshold). docs/curator.md's screenshot comes from it."""

from __future__ import annotations

import sys
from pathlib import Path

from kiosk.app.service.threshold import match_threshold
from kiosk.gallery import report
from kiosk.gallery.builder import BuildError, BuildOptions, build
from kiosk.gallery.query import query_images
from kiosk.gallery.reader import GalleryIndex
from kiosk.gallery.report.reference import ReferenceSource, reference_set
from kiosk.gallery.report.sample import make_sample


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    photos, queries, meta, model = make_sample(out)
    try:
        summary = build([photos], out / "index", BuildOptions(metadata=(meta,)), model=model,
                        progress=False)
    except BuildError as e:
        print(f"curator_sample: {e}", file=sys.stderr)
        return 1
    print(summary.format(), file=sys.stderr)
    index = GalleryIndex.open(out / "index")
    t = match_threshold()
    results = query_images(index, queries, model, k=4, metric=t.metric)
    ref = reference_set(ReferenceSource.SYNTH, None)
    page = report.write(report.ReportInput(index, t.raw, t.metric, ref, results),
                        out / "report.html")
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
