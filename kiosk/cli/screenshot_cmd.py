"""`kiosk screenshot`: ask the running kiosk for a PNG of its screen (see
kiosk/app/service/screenshot.py). The live-camera region is blanked unless --include-camera."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk.core.enums import ExitCode

HELP = "a PNG of the running kiosk's screen (the live camera blanked unless --include-camera)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE", default="screenshot.png",
                        help="where to write the PNG ('-': standard output; default screenshot.png)")
    parser.add_argument("--include-camera", action="store_true",
                        help="keep the live camera image (frames of visitors leave the device)")
    parser.add_argument("--timeout", type=float, default=15.0, metavar="S",
                        help="seconds to wait for the kiosk's answer (default 15)")
    parser.add_argument("--status-file", metavar="PATH", help="the kiosk's status file (its runtime dir)")
    parser.add_argument("--config", metavar="FILE", help="configuration to take status.path from")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kiosk.app.service.screenshot import ScreenshotError, request
    from kiosk.cli.status_cmd import _resolve

    status_path, _ = _resolve(argparse.Namespace(status_file=args.status_file, config=args.config,
                                                 max_age=None))
    try:
        png = request(status_path.parent, args.include_camera, args.timeout)
    except ScreenshotError as exc:
        print(f"kiosk screenshot: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    if args.output == "-":
        sys.stdout.buffer.write(png)
        sys.stdout.flush()
    else:
        Path(args.output).write_bytes(png)
        print(f"kiosk screenshot: {args.output} ({len(png) // 1024} KB)", file=sys.stderr)
    return ExitCode.OK
