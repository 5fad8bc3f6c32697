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
    "doctor": "kiosk.cli.doctor_cmd",
    "deploy": "kiosk.cli.deploy_cmd",
    "releases": "kiosk.cli.releases_cmd",
    "fleet": "kiosk.cli.fleet_cmd",
    "screenshot": "kiosk.cli.screenshot_cmd",
}


def command_in(argv: Sequence[str]) -> str | None:
    """The subcommand argv runs (None for --help/--version or none): only its module is imported,
    so a `kiosk releases` call over ssh starts quickly."""
    for arg in argv:
        if arg in ("-h", "--help", "--version"):
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        if importlib.util.find_spec(module_name) is None:
            continue  # not built yet
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.register(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_in(argv))
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
