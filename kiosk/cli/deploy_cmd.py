"""`kiosk deploy`: push a gallery index (and the model it needs) to kiosks over ssh, or roll back.

    kiosk deploy [options] INDEX_DIR HOST... [--config FILE]
    kiosk deploy [options] INDEX_DIR --hosts FILE
    kiosk deploy [options] --rollback HOST...

Exit status: 0 every host ok, 1 some host failed, 2 bad usage, a bad INDEX_DIR or --config FILE.
See docs/fleet.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from kiosk.cli import options
from kiosk.core.enums import ExitCode

HELP = "deploy an index to kiosks over ssh (upload, verify, switch, health check, auto-revert)"

EPILOG = """\
HOST is [user@]host[:port] or an alias from ~/.ssh/config. A hosts FILE has one HOST per line;
blank lines and # comments are ignored. Each host: lock -> probe -> model -> upload (resumable)
-> verify on the kiosk -> switch (pending) -> reload -> health check -> confirm -> prune. A kiosk
whose deploy dies before confirming returns to its previous release after --confirm-within.
"""


_UINT = options.int_at_least(0)


def register(parser: argparse.ArgumentParser) -> None:
    from kiosk.fleet.deploy import PAUSE_POINTS

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("args", nargs="*", metavar="INDEX_DIR HOST", help="the index, then hosts")
    parser.add_argument("--hosts", metavar="FILE", type=Path, help="read hosts from FILE")
    parser.add_argument("--rollback", action="store_true", help="switch each HOST back to `previous`")
    parser.add_argument("--dry-run", action="store_true", help="probe each host and say what would happen")
    parser.add_argument("--json", action="store_true", help="the per-host results as JSON on stdout")
    parser.add_argument("--index-root", metavar="DIR", help="index root on the kiosks (default: theirs)")
    parser.add_argument("--models-dir", metavar="DIR",
                        help="models directory on the kiosks (default: $KIOSK_MODELS_DIR there)")
    parser.add_argument("--local-models-dir", metavar="DIR", type=Path,
                        help="models directory here (default: $KIOSK_MODELS_DIR)")
    parser.add_argument("--no-model", action="store_true", help="do not check or bring the index's model")
    parser.add_argument("--config", metavar="FILE", type=Path,
                        help="a kiosk.yaml deployed with the index: served over each kiosk's own file "
                        "(its keys win), switched and rolled back with the index; checked here first")
    parser.add_argument("--remote-kiosk", metavar="CMD", default="kiosk",
                        help="the kiosk command on the hosts (default: kiosk)")
    parser.add_argument("--no-local-verify", action="store_true",
                        help="skip verifying INDEX_DIR and --config here (the kiosks still check them)")
    parser.add_argument("--reload-cmd", metavar="CMD", default="systemctl reload move-mirror",
                        help="shell command run on the kiosk to reload it (default: systemctl reload "
                        "move-mirror)")
    parser.add_argument("--status-timeout", metavar="S", type=_UINT, default=30,
                        help="seconds to wait for the kiosk to serve the new index (default 30)")
    parser.add_argument("--confirm-within", metavar="S", type=_UINT, default=120,
                        help="a kiosk not confirmed healthy within S seconds reverts by itself (default 120)")
    parser.add_argument("--keep", metavar="N", type=_UINT, default=3,
                        help="releases kept per host, besides current and previous (default 3)")
    parser.add_argument("--parallel", metavar="N", type=_UINT, default=4,
                        help="hosts deployed at the same time (default 4)")
    parser.add_argument("--lock-wait", metavar="S", type=_UINT, default=0,
                        help="wait this long for another deploy to the same kiosk (default: fail at once)")
    parser.add_argument("-p", "--port", type=_UINT, help="ssh port (a host's own :port wins)")
    parser.add_argument("-i", "--identity", metavar="FILE", help="ssh identity file")
    parser.add_argument("-l", "--user", help="ssh user (a host's own user@ wins)")
    parser.add_argument("-o", "--ssh-option", metavar="OPT", action="append", default=[],
                        help="extra ssh -o option (repeatable), e.g. -o StrictHostKeyChecking=no")
    parser.add_argument("--connect-timeout", metavar="S", type=_UINT, default=10,
                        help="ssh ConnectTimeout (default 10)")
    parser.add_argument("--io-timeout", metavar="S", type=_UINT, default=60,
                        help="rsync --timeout and the ssh keep-alive budget (default 60)")
    parser.add_argument("--command-timeout", metavar="S", type=_UINT, default=600,
                        help="bound on verifying the upload on the kiosk (default 600)")
    parser.add_argument("--rsync-path", metavar="CMD", help="rsync program on the hosts")
    parser.add_argument("--bwlimit", metavar="KBPS", type=_UINT,
                        help="upload bandwidth limit per host (KiB/s)")
    parser.add_argument("--test-pause-at", choices=PAUSE_POINTS,
                        help="test hook: pause at this step (printing 'test pause at STEP') so a test "
                        "can kill the deploy there")
    parser.add_argument("--test-pause-seconds", type=float, default=30, help="test hook: pause length")
    parser.set_defaults(func=run)


def read_hosts(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SystemExit(f"kiosk deploy: cannot read hosts file {path}: {exc.strerror}") from exc
    return [w for line in text.splitlines() for w in line.split("#", 1)[0].split()]


def _fail(message: str) -> int:
    print(f"kiosk deploy: {message}", file=sys.stderr)
    return ExitCode.USAGE


def run(args: argparse.Namespace) -> int:
    import shutil

    from kiosk.fleet.deploy import DeploySettings, printer, run_hosts, summary_table
    from kiosk.fleet.localindex import BadIndex, load_local_config, load_local_index
    from kiosk.fleet.ssh import SshOptions, Target

    positional = list(args.args)
    index = None
    if not args.rollback:
        if not positional:
            return _fail("missing INDEX_DIR (see --help)")
        index_arg = positional.pop(0)
    hosts = positional + (read_hosts(args.hosts) if args.hosts else [])
    if not hosts:
        return _fail("no HOST given (arguments or --hosts FILE)")
    try:
        targets = [Target.parse(h) for h in hosts]
    except ValueError as exc:
        return _fail(str(exc))
    if args.parallel < 1 or args.keep < 1:
        return _fail("--parallel and --keep must be at least 1")
    if args.confirm_within <= args.status_timeout:
        return _fail(f"--confirm-within ({args.confirm_within}s) must be longer than --status-timeout "
                     f"({args.status_timeout}s), or a healthy kiosk would revert during its check")
    for tool in ("ssh", "rsync"):
        if shutil.which(tool) is None:
            return _fail(f"{tool} is not installed (apt-get install openssh-client rsync)")
    if args.rollback and args.config:
        return _fail("--rollback returns to the previous release with its own config; drop --config")
    if not args.rollback:
        try:
            config = load_local_config(args.config, verify=not args.no_local_verify) if args.config \
                else None
            index = load_local_index(Path(index_arg), verify=not args.no_local_verify,
                                     need_model=not args.no_model, models_dir=args.local_models_dir)
        except BadIndex as exc:
            return _fail(str(exc))
        index = dataclasses.replace(index, config=config)
    ssh = SshOptions(port=args.port, identity=args.identity, user=args.user,
                     options=tuple(args.ssh_option), connect_timeout=args.connect_timeout,
                     io_timeout=args.io_timeout)
    settings = DeploySettings(
        ssh=ssh, remote_kiosk=args.remote_kiosk, index_root=args.index_root, models_dir=args.models_dir,
        reload_cmd=args.reload_cmd, status_timeout=args.status_timeout,
        confirm_within=args.confirm_within, keep=args.keep, command_timeout=args.command_timeout,
        rsync_path=args.rsync_path, bwlimit=args.bwlimit, lock_wait=args.lock_wait, dry_run=args.dry_run,
        pause_at=args.test_pause_at, pause_seconds=args.test_pause_seconds)
    say = printer(sys.stderr if args.json else sys.stdout)
    what = f"index {index.id} ({index.bytes // 1024} KB) from {index.path}" if index else "rollback"
    if index is not None and index.config is not None:
        what += f" with config {index.config.path}"
    say(f"kiosk deploy: {what} to {len(targets)} host(s){' (dry run)' if args.dry_run else ''}")
    results = run_hosts(targets, settings, index, args.parallel, say)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    else:
        print(summary_table(results), flush=True)
    return 1 if any(r.result == "FAILED" for r in results) else 0
