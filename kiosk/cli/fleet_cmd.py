"""`kiosk fleet`: look at kiosks from the workstation (over ssh), or at this kiosk (--local).

    kiosk fleet status [--json] HOST... | --hosts FILE
    kiosk fleet status --local [--json]          (on a kiosk: what the workstation collects)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk.core.enums import ExitCode

HELP = "fleet status of kiosks over ssh: index, model, state, fps, temperature, throttling, last deploy"


def _ssh_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("hosts", nargs="*", metavar="HOST", help="[user@]host[:port] or a ~/.ssh/config alias")
    p.add_argument("--hosts", dest="hosts_file", metavar="FILE", type=Path, help="one HOST per line")
    p.add_argument("--remote-kiosk", metavar="CMD", default="kiosk",
                   help="the kiosk command on the hosts (default: kiosk)")
    p.add_argument("--parallel", type=int, default=8, help="hosts asked at the same time (default 8)")
    p.add_argument("-p", "--port", type=int, help="ssh port (a host's own :port wins)")
    p.add_argument("-i", "--identity", metavar="FILE", help="ssh identity file")
    p.add_argument("-l", "--user", help="ssh user (a host's own user@ wins)")
    p.add_argument("-o", "--ssh-option", metavar="OPT", action="append", default=[],
                   help="extra ssh -o option (repeatable)")
    p.add_argument("--connect-timeout", type=int, default=10, help="ssh ConnectTimeout (default 10)")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fleet_command", metavar="VERB", required=True)
    p = sub.add_parser("status", help="one line per kiosk (or --json)", description=HELP)
    _ssh_args(p)
    p.add_argument("--json", action="store_true", help="one JSON record per kiosk")
    p.add_argument("--local", action="store_true", help="this kiosk's record (run on the kiosk)")
    p.add_argument("--index-root", metavar="DIR", help="index root (on the kiosk)")
    p.add_argument("--status-file", metavar="PATH", help="status file (on the kiosk)")
    p = sub.add_parser("screenshot", help="a PNG of a kiosk's screen (live camera blanked)",
                       description="a PNG of a kiosk's screen, through `kiosk screenshot` on it")
    _ssh_args(p)
    p.add_argument("-O", "--output", metavar="FILE", help="where to write it (default: HOST.png)")
    p.add_argument("--include-camera", action="store_true", help="keep the live camera image")
    parser.set_defaults(func=run)


def _targets(args: argparse.Namespace) -> list[str]:
    from kiosk.cli.deploy_cmd import read_hosts

    hosts = list(args.hosts) + (read_hosts(args.hosts_file) if args.hosts_file else [])
    if not hosts:
        raise SystemExit("kiosk fleet: no HOST given (arguments or --hosts FILE)")
    return hosts


def _local(args: argparse.Namespace) -> dict:
    from kiosk.app.service.status import StatusError, read_status
    from kiosk.cli.releases_cmd import index_root
    from kiosk.cli.status_cmd import _resolve, problems_of
    from kiosk.core.sensors import SysSensors
    from kiosk.fleet.status import local_record

    status_path, max_age = _resolve(argparse.Namespace(status_file=args.status_file, config=None,
                                                       max_age=None))
    try:
        status = read_status(status_path)
        problems = problems_of(status, max_age)
    except StatusError as exc:
        status, problems = {}, [str(exc)]
    return local_record(status, problems, index_root(args.index_root), SysSensors())


def _remote_fetcher(args: argparse.Namespace):
    import shlex

    from kiosk.fleet.ssh import SshOptions, Target, remote_command, ssh_error
    from kiosk.fleet.status import parse_record

    options = SshOptions(port=args.port, identity=args.identity, user=args.user,
                         options=tuple(args.ssh_option), connect_timeout=args.connect_timeout)
    words = [*shlex.split(args.remote_kiosk), "fleet", "status", "--local", "--json"]
    if args.index_root:
        words += ["--index-root", args.index_root]

    def fetch(host: str) -> dict:
        import subprocess

        target = Target.parse(host)
        proc = subprocess.run([*options.argv(target), target.host, remote_command(words)],
                              capture_output=True, text=True, timeout=args.connect_timeout + 60,
                              stdin=subprocess.DEVNULL)
        if proc.returncode == 255:
            raise RuntimeError(ssh_error(proc.stderr, 255))
        return parse_record(proc.stdout)

    return fetch


def _screenshot(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from kiosk.fleet.ssh import SshOptions, Target, remote_command, ssh_error

    hosts = _targets(args)
    if len(hosts) != 1:
        raise SystemExit("kiosk fleet screenshot: give exactly one HOST")
    target = Target.parse(hosts[0])
    options = SshOptions(port=args.port, identity=args.identity, user=args.user,
                         options=tuple(args.ssh_option), connect_timeout=args.connect_timeout)
    words = [*shlex.split(args.remote_kiosk), "screenshot", "-o", "-"]
    if args.include_camera:
        words.append("--include-camera")
    proc = subprocess.run([*options.argv(target), target.host, remote_command(words)], capture_output=True,
                          timeout=args.connect_timeout + 60, stdin=subprocess.DEVNULL)
    err = proc.stderr.decode(errors="replace").strip()
    if proc.returncode != 0 or not proc.stdout.startswith(b"\x89PNG"):
        why = ssh_error(err, 255) if proc.returncode == 255 else (err.splitlines() or ["no PNG"])[-1]
        print(f"kiosk fleet screenshot: {target.spec}: {why}", file=sys.stderr)
        return ExitCode.FAILURE
    out = Path(args.output or f"{target.host}.png")
    out.write_bytes(proc.stdout)
    print(f"kiosk fleet screenshot: {out} ({len(proc.stdout) // 1024} KB)", file=sys.stderr)
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    from kiosk.fleet.status import collect, table

    if args.fleet_command == "screenshot":
        return _screenshot(args)

    if args.local:
        record = _local(args)
        print(json.dumps(record, indent=1, sort_keys=True) if args.json else table([{"host": "local",
                                                                                     **record}]))
        return 0 if record["ok"] else 1
    records = collect(_targets(args), _remote_fetcher(args), max(1, args.parallel))
    if args.json:
        print(json.dumps(records, indent=1, sort_keys=True))
    else:
        print(table(records))
    bad = [r["host"] for r in records if not r.get("ok")]
    if bad:
        print(f"kiosk fleet: {len(bad)} of {len(records)} kiosk(s) need attention: {', '.join(bad)}",
              file=sys.stderr)
    return 1 if bad else 0
