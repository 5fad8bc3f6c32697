"""`kiosk bench pose|search|loop|gil|build`: benchmarks that print their figures (never asserted in tests).

Each benchmark lives in kiosk/bench/<name>.py and exposes HELP, add_arguments(parser), run(args).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

HELP = ("benchmarks: pose (per-stage ms), search (VP-tree vs peers), loop (display fps, pose rate), "
        "gil (does invoke release the GIL), build (index builder frames/s per engine)")

BENCHES = {
    "pose": "kiosk.bench.pose",
    "search": "kiosk.bench.search",
    "loop": "kiosk.bench.loop",
    "gil": "kiosk.bench.gil",
    "build": "kiosk.bench.build",
}


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    for name, module_name in BENCHES.items():
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
