"""`kiosk` entry point: a registry of subcommand modules, each imported only to register.

A subcommand module exposes:
    HELP: str                                   one line for `kiosk --help`
    register(parser: argparse.ArgumentParser)   adds arguments and sets `func=run(args) -> int`
Heavy imports (numpy, the interpreter, pygame, PyAV) belong inside `run`, not at module level.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from kiosk import __version__
from kiosk.core.logsetup import setup_logging

#: subcommand -> module, in the order `kiosk --help` lists them.
COMMANDS: dict[str, str] = {
    "pose": "kiosk.cli.pose_cmd",
    "compare": "kiosk.cli.compare_cmd",
    "models": "kiosk.cli.models_cmd",
    "eval": "kiosk.cli.eval_cmd",
    "bench": "kiosk.cli.bench_cmd",
    "index": "kiosk.cli.index_cmd",
    "run": "kiosk.cli.run_cmd",
    "record": "kiosk.cli.record_cmd",
    "config": "kiosk.cli.config_cmd",
    "status": "kiosk.cli.status_cmd",
    "reload": "kiosk.cli.reload_cmd",
    "doctor": "kiosk.cli.doctor_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if importlib.util.find_spec(module_name) is None:
            continue  # not built yet
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.register(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
