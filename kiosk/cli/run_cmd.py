"""`kiosk run`: the kiosk itself (what systemd starts). See kiosk/app/service/service.py."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.cli import options

if TYPE_CHECKING:
    from kiosk.app.service.seams import Factories

HELP = "run the kiosk: camera -> pose -> match -> screen (systemd Type=notify service)"

EPILOG = """\
config: --config, else $KIOSK_CONFIG, else /etc/move-mirror/kiosk.yaml if it exists, else the
checkout's config/kiosk.yaml. With SDL_VIDEODRIVER=dummy (or --headless) nothing is shown.
Signals: SIGHUP reloads the config and the index, SIGTERM/SIGINT stop cleanly.
Exit codes: 0 clean stop, 1 runtime failure (e.g. the camera gave up), 2 bad configuration.
"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", metavar="FILE", help="configuration file (YAML)")
    parser.add_argument("--index", metavar="DIR", help="index directory (overrides index.path; a `current` "
                        "symlink is re-resolved on every reload)")
    parser.add_argument("--source", metavar="SOURCE",
                        help="camera source: replay:PATH | picamera2 | webcam:N (overrides camera.source)")
    parser.add_argument("--max-frames", metavar="N", type=options.int_at_least(1),
                        help="stop cleanly after N frames")
    parser.add_argument("--screenshots", metavar="DIR", type=Path,
                        help="save the composed screen as PNG whenever the shown photo changes, "
                        "plus the last frame")
    parser.add_argument("--headless", action="store_true", default=None,
                        help="no window (same as SDL_VIDEODRIVER=dummy)")
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument("--fast", dest="realtime", action="store_false", default=None,
                        help="replay sources: as fast as possible")
    pacing.add_argument("--realtime", dest="realtime", action="store_true",
                        help="replay sources: at the recorded frame rate")
    looping = parser.add_mutually_exclusive_group()
    looping.add_argument("--once", dest="loop", action="store_false", default=None,
                         help="replay sources: stop at the end (exit 0)")
    looping.add_argument("--loop", dest="loop", action="store_true",
                         help="replay sources: start again at the end")
    parser.add_argument("--status-file", metavar="PATH", help="status JSON file (overrides status.path)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, factories: Factories | None = None) -> int:
    """factories: how the kiosk's parts are made (tests inject hung or fake parts here)."""
    from kiosk.app.devices.camera.source import source_problem
    from kiosk.app.service.components import Overrides, default_config_path
    from kiosk.app.service.seams import RunOptions
    from kiosk.app.service.service import KioskService

    if args.source is not None:
        problem = source_problem(args.source)
        if problem:
            raise SystemExit(f"kiosk run: --source {problem}")
    overrides = Overrides(index=args.index, source=args.source, replay_realtime=args.realtime,
                          replay_loop=args.loop, status_file=args.status_file)
    options = RunOptions(config_path=default_config_path(args.config).absolute(), overrides=overrides,
                         max_frames=args.max_frames, screenshots=args.screenshots, headless=args.headless)
    return KioskService(options, factories=factories).run()
