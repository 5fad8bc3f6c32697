"""`kiosk`: the Move Mirror gallery kiosk and its tools.

Show the kiosk (`kiosk run`), build and inspect the gallery index it matches against
(`kiosk index`), look after it (`kiosk status`, `kiosk doctor`, `kiosk config`, `kiosk
screenshot`), run a fleet of them (`kiosk deploy`, `kiosk fleet`, `kiosk releases`), fetch and try
the pose models (`kiosk models`, `kiosk pose`, `kiosk compare`, `kiosk eval`) and measure it
(`kiosk bench`). `kiosk COMMAND --help` tells more; docs/reference/cli.md lists every option.

A subcommand module exposes HELP (one line for `kiosk --help`) and register(parser), which adds
its arguments and sets `func=run(args) -> int`; heavy imports belong inside `run`. Errors a user
can fix (a missing file, an unknown model, a bad value) are reported here in one line, without a
traceback (-v adds it); a closed output pipe ends quietly.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from kiosk import __version__
from kiosk.core.enums import ExitCode
from kiosk.core.logsetup import setup_logging

log = logging.getLogger(__name__)

#: subcommand -> module, in the order `kiosk --help` lists them.
COMMANDS: dict[str, str] = {
    "run": "kiosk.cli.run_cmd",
    "status": "kiosk.cli.status_cmd",
    "reload": "kiosk.cli.reload_cmd",
    "doctor": "kiosk.cli.doctor_cmd",
    "config": "kiosk.cli.config_cmd",
    "index": "kiosk.cli.index_cmd",
    "models": "kiosk.cli.models_cmd",
    "pose": "kiosk.cli.pose_cmd",
    "compare": "kiosk.cli.compare_cmd",
    "record": "kiosk.cli.record_cmd",
    "eval": "kiosk.cli.eval_cmd",
    "bench": "kiosk.cli.bench_cmd",
    "deploy": "kiosk.cli.deploy_cmd",
    "fleet": "kiosk.cli.fleet_cmd",
    "releases": "kiosk.cli.releases_cmd",
    "screenshot": "kiosk.cli.screenshot_cmd",
}

DESCRIPTION = __doc__.split("\n\nA subcommand module")[0] if __doc__ else ""


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
    parser = argparse.ArgumentParser(prog="kiosk", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="debug logging, and a traceback with every error")
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


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the input or setting is wrong" (their messages say what to do)."""
    from kiosk.gallery.atomic import BuildError
    from kiosk.gallery.demo import DemoAssetError
    from kiosk.gallery.manifest import IndexLoadError
    from kiosk.gallery.metadata import MetadataError
    from kiosk.gallery.sources import SourceError

    return (OSError, ValueError, RuntimeError, BuildError, DemoAssetError, IndexLoadError,
            MetadataError, SourceError)


def _pipe_closed() -> int:
    """stdout's reader is gone: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return ExitCode.PIPE_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_in(argv))
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    func = getattr(args, "func", None)  # argparse's namespace: set by the chosen subcommand
    if func is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        code = int(func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return _pipe_closed()
    except _user_errors() as exc:
        actions = [v for k, v in vars(args).items() if k.endswith("_command") and isinstance(v, str)]
        command = " ".join([args.command, *actions])  # e.g. "index query"
        message = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and exc.strerror:  # "[Errno 2] ..." -> "PATH: ..."
            message = f"{exc.filename}: {exc.strerror}"
        print(f"kiosk {command}: {message}", file=sys.stderr)
        log.debug("traceback", exc_info=True)
        return ExitCode.USAGE if isinstance(exc, ValueError) else ExitCode.FAILURE
