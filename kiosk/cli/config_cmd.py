"""`kiosk config check FILE` / `kiosk config show [FILE]`."""

from __future__ import annotations

import argparse
import sys

from kiosk.core.enums import ExitCode

HELP = "check a kiosk configuration file (every problem, with its key path) or show the effective config"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate FILE; print every problem and exit 1 if any")
    check.add_argument("file", metavar="FILE", nargs="?",
                       help="default: $KIOSK_CONFIG, /etc/move-mirror/kiosk.yaml or config/kiosk.yaml")
    check.set_defaults(func=run_check)
    show = sub.add_parser("show", help="print the effective configuration (defaults filled in) as YAML")
    show.add_argument("file", metavar="FILE", nargs="?",
                      help="default: $KIOSK_CONFIG, /etc/move-mirror/kiosk.yaml or config/kiosk.yaml")
    show.set_defaults(func=run_show)


def run_check(args: argparse.Namespace) -> int:
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import ConfigError, load_config

    path = default_config_path(args.file)
    try:
        load_config(path)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return ExitCode.FAILURE
    print(f"{path}: OK")
    return ExitCode.OK


def run_show(args: argparse.Namespace) -> int:
    import yaml

    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import ConfigError, load_config
    from kiosk.app.service.schema import to_mapping

    path = default_config_path(args.file)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.FAILURE
    print(f"# effective configuration from {path}")
    print(f"# index directory: {config.index_path()}   status file: {config.status_path()}")
    sys.stdout.write(yaml.safe_dump(to_mapping(config), sort_keys=False, default_flow_style=False))
    return ExitCode.OK
