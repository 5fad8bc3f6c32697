"""`kiosk releases`: the kiosk's side of a deploy. Every verb prints one JSON object.

Run on the kiosk (by `kiosk deploy` over ssh, or by hand). Exit codes: 0 done, 1 refused or
failed (`error` says why), 3 another deploy or release operation holds the lock.
Every call first reverts a pending activation whose deadline has passed (the dead-man switch).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from kiosk.core.enums import ExitCode
from kiosk.core.settings import env_str

HELP = "the releases on this kiosk: list, stage, promote, activate, confirm, rollback, prune (JSON)"


def _add(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help)


def _transaction_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--confirm-within", metavar="SECONDS", type=float, default=120.0,
                   help="revert unless `confirm` comes within this many seconds (default 120)")
    p.add_argument("--reload-cmd", metavar="CMD", default=None,
                   help="shell command that reloads the kiosk (default: systemctl reload move-mirror)")
    p.add_argument("--no-reload", dest="reload", action="store_false",
                   help="switch only; the caller runs `kiosk releases reload` next")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-root", metavar="DIR", help="index root (default: $KIOSK_INDEX_ROOT, "
                        "else the parent of the config's index.path `current`, else the checkout's index/)")
    parser.add_argument("--models-dir", metavar="DIR", help="models directory (default: $KIOSK_MODELS_DIR)")
    parser.add_argument("--json", action="store_true", help="JSON output (always on; accepted for symmetry)")
    sub = parser.add_subparsers(dest="releases_command", metavar="VERB", required=True)
    p = _add(sub, "list", "current, previous, releases, stagings, free space, pending activation")
    p.add_argument("--model", nargs=2, metavar=("NAME", "SHA256"), help="also: is this model installed?")
    p = _add(sub, "stage", "make the upload staging dir for INDEX_ID (refused when the disk is too full)")
    p.add_argument("index_id", help="the index id (its manifest's index_id)")
    p.add_argument("--bytes", type=int, default=0, help="size of the upload")
    p = _add(sub, "drop", "remove INDEX_ID's staging dir (a failed upload)")
    p.add_argument("index_id", help="the index id (its manifest's index_id)")
    p = _add(sub, "promote", "verify the upload of INDEX_ID (kiosk index verify) and move it into releases/")
    p.add_argument("index_id", help="the index id (its manifest's index_id)")
    p = _add(sub, "activate", "switch current to INDEX_ID as a pending transaction, then reload")
    p.add_argument("index_id", help="the index id (its manifest's index_id)")
    p.add_argument("--config", metavar="SHA256", help="with the deployed config configs/SHA256.yaml "
                   "(default: the deployed config stays)")
    _transaction_args(p)
    p = _add(sub, "confirm", "end the pending activation of INDEX_ID (it is healthy)")
    p.add_argument("index_id", help="the index id (its manifest's index_id)")
    p.add_argument("--prune", metavar="KEEP", type=int, help="then prune, keeping KEEP releases")
    p = _add(sub, "revert", "undo the pending activation now, then reload")
    p = _add(sub, "reload", "run the reload command (tell the kiosk to re-read current)")
    p.add_argument("--reload-cmd", metavar="CMD", default=None,
                   help="shell command that reloads the kiosk (default: systemctl reload move-mirror)")
    p = _add(sub, "rollback", "activate the previous release (pending, like activate)")
    _transaction_args(p)
    p = _add(sub, "prune", "delete old releases: keep the N newest, always current and previous")
    p.add_argument("--keep", type=int, default=3, help="releases kept besides current and previous (3)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    p = _add(sub, "hold", "hold the deploy lock until stdin closes (a deploy session)")
    p.add_argument("--owner", default="someone", help="who deploys (shown to a second deploy)")
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the lock")
    p = _add(sub, "config", "is the deployed config SHA256 here? --install: check an upload, move it in")
    p.add_argument("sha256", help="the config file's sha256")
    p.add_argument("--install", action="store_true", help="install the upload configs/.incoming-SHA256.yaml")
    p = _add(sub, "model", "is the model NAME with SHA256 installed? --install: move an upload in")
    p.add_argument("name", help="the model's name (models/manifest.yaml)")
    p.add_argument("sha256", help="the sha256 the index's manifest records for it")
    p.add_argument("--install", action="store_true", help="install the upload in <models>/.incoming-model")
    p = sub.add_parser("watch", help="internal: the dead-man watcher `activate` starts")
    p.add_argument("token", help="the pending activation's token")
    parser.set_defaults(func=run)


def index_root(explicit: str | None) -> Path:
    """--index-root, else $KIOSK_INDEX_ROOT, else the config's `current`'s parent, else the default."""
    from kiosk.core import paths

    if explicit:
        return Path(explicit).expanduser()
    if env_str("KIOSK_INDEX_ROOT") is not None:
        return paths.index_root()
    from kiosk.app.service.components import default_config_path
    from kiosk.app.service.config import ConfigError, load_config

    config_path = default_config_path()
    if config_path.is_file():
        try:
            configured = load_config(config_path).index_path()
            if configured.name == "current":
                return configured.parent
        except ConfigError:
            pass
    return paths.index_root()


def models_dir(explicit: str | None, root: Path) -> Path:
    """--models-dir, else $KIOSK_MODELS_DIR, else `models` beside the index root when it exists
    (install.sh's /var/lib/move-mirror/{index,models}: an ssh session lacks the unit's
    environment), else the default."""
    from kiosk.core import paths

    if explicit:
        return Path(explicit).expanduser()
    beside = root.parent / "models"
    if env_str("KIOSK_MODELS_DIR") is None and beside.is_dir():
        return beside
    return paths.models_dir()


def _verify(path: Path) -> list[str]:
    from kiosk.gallery.verify import problems

    return problems(path, deep=True)


def _model(args: argparse.Namespace, *, prepare: bool = True) -> dict[str, Any]:
    """Is the model installed? When not and `prepare`, make the upload dir for it."""
    from kiosk.gallery import delivery
    from kiosk.gallery.releaselayout import ReleaseError

    mdir = models_dir(args.models_dir, index_root(args.index_root))
    staged = mdir / delivery.INCOMING_MODEL
    try:
        if args.install:
            installed = delivery.install_model(args.name, args.sha256, staged, mdir)
            return {"present": True, "files": list(installed.files), "models_dir": str(mdir)}
        found = delivery.find_model(args.name, args.sha256, mdir)
        if found is None and prepare:
            staged.mkdir(parents=True, exist_ok=True)
    except delivery.DeliveryError as exc:
        raise ReleaseError(str(exc)) from exc
    return {"present": found is not None, "files": list(found.files) if found else [],
            "models_dir": str(mdir), "staging": str(staged)}


def _hold(rel: Any, args: argparse.Namespace) -> dict[str, Any]:
    with rel.session(args.owner, wait=args.wait):
        print(json.dumps({"ok": True, "locked": True, "pid": os.getpid()}), flush=True)
        while sys.stdin.buffer.read(4096):
            pass
    return {"locked": False}


def _dispatch(rel: Any, args: argparse.Namespace) -> dict[str, Any]:
    from kiosk.gallery.releaselayout import DEFAULT_RELOAD
    from kiosk.gallery.releases import run_reload

    verb = args.releases_command
    reload_cmd = getattr(args, "reload_cmd", None) or DEFAULT_RELOAD
    if verb == "list":
        out = rel.describe()
        if args.model:
            args.name, args.sha256 = args.model
            args.install = False
            out["model"] = _model(args, prepare=False)  # read only (also in a dry run)
        return out
    if verb == "stage":
        return rel.stage(args.index_id, args.bytes, session=rel.session_busy())
    if verb == "drop":
        return {"dropped": rel.drop(args.index_id)}
    if verb == "promote":
        return rel.promote(args.index_id, _verify)
    if verb == "activate":
        return rel.activate(args.index_id, confirm_within=args.confirm_within, reload_cmd=reload_cmd,
                            reload=args.reload, config=args.config)
    if verb == "config":
        return rel.install_config(args.sha256) if args.install else rel.stage_config(args.sha256)
    if verb == "reload":
        code, out = run_reload(reload_cmd)
        return {"reload_exit": code, "reload_output": out[-500:]}
    if verb == "confirm":
        out = rel.confirm(args.index_id)
        if args.prune:
            out["pruned"] = rel.prune(args.prune, staging=rel.session_busy())
        return out
    if verb == "revert":
        return rel.revert("reverted on request")
    if verb == "rollback":
        return rel.rollback(confirm_within=args.confirm_within, reload_cmd=reload_cmd, reload=args.reload)
    if verb == "prune":
        return rel.prune(args.keep, dry_run=args.dry_run, staging=rel.session_busy())
    if verb == "model":
        return _model(args)
    raise AssertionError(verb)


def run(args: argparse.Namespace) -> int:
    from kiosk.core.locks import LockBusy
    from kiosk.gallery.releaselayout import ReleaseError
    from kiosk.gallery.releases import ReleaseRoot

    rel = ReleaseRoot(index_root(args.index_root))
    code = ExitCode.OK
    try:
        if args.releases_command == "watch":
            result = rel.watch(args.token)
        elif args.releases_command == "hold":
            rel.expire()
            result = _hold(rel, args)
        else:
            expired = rel.expire()
            result = _dispatch(rel, args)
            if expired.get("reverted"):
                result["expired_activation"] = expired
        result = {"ok": True, **result}
    except LockBusy as exc:
        result, code = {"ok": False, "busy": True, "error": str(exc)}, ExitCode.BUSY
    except (ReleaseError, OSError) as exc:
        result, code = {"ok": False, "error": str(exc)}, ExitCode.FAILURE
    # one line: `hold`'s answer is read line by line
    print(json.dumps(result, sort_keys=True, default=str), flush=True)
    return code
