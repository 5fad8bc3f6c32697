"""`kiosk doctor`: camera, models, delegate, index, display, groups (checks: kiosk/app/service/doctor.py)."""

from __future__ import annotations

import argparse
import json
import sys

from kiosk.core.enums import ExitCode

HELP = "check camera, models, Edge TPU, index, display and groups; say what to fix (non-zero on FAIL)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="configuration to check against")
    parser.add_argument("--index", metavar="DIR", help="index directory (overrides index.path)")
    parser.add_argument("--deep", action="store_true", help="verify every sha256 of the index")
    parser.add_argument("--user", help="user whose groups to check (default: mirror when root, else you)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kiosk.app.service.components import Overrides, default_config_path
    from kiosk.app.service.config import ConfigError, load_config
    from kiosk.app.service.doctor import FAIL, OK, Check, run_all

    path = default_config_path(args.config)
    try:
        config = Overrides(index=args.index).apply(load_config(path))
        checks = [Check(OK, "config", f"{path} is valid")]
    except ConfigError as exc:
        print(f"FAIL  config    {exc}\n{'':16}fix: kiosk config check {path}", file=sys.stderr)
        return ExitCode.FAILURE
    checks += run_all(config, deep=args.deep, user=args.user)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
    failed = sum(c.level == FAIL for c in checks)
    warned = sum(c.level == "WARN" for c in checks)
    if not args.json:
        print(f"\n{len(checks)} checks: {failed} FAIL, {warned} WARN", file=sys.stderr)
    return 1 if failed else 0
