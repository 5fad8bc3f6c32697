"""A tiny stand-in for the `kiosk` command, used only while the real one is not importable.

Implements the surface scripts/deploy.sh relies on, with the real manifest layout (manifest.json
with `index_id` and `files: {path: {sha256, bytes}}`):
    kiosk --version
    kiosk index verify DIR         sha256 of every file against the manifest
    kiosk status --json            prints $KIOSK_STATUS_FILE (or $RUNTIME_DIRECTORY/status.json)
    kiosk run --index DIR          serves DIR (a `current` symlink, resolved at load and on SIGHUP);
                                   an index whose manifest has "refuse": true is refused on reload
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path


def status_path() -> Path:
    explicit = os.environ.get("KIOSK_STATUS_FILE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("RUNTIME_DIRECTORY", "/tmp/move-mirror")) / "status.json"


def verify(root: Path) -> str | None:
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        return f"{root}: no readable manifest.json ({exc})"
    for rel, info in manifest.get("files", {}).items():
        p = root / rel
        if not p.is_file():
            return f"{p}: missing"
        if hashlib.sha256(p.read_bytes()).hexdigest() != info["sha256"]:
            return f"{p}: sha256 mismatch"
    return None


def write_status(state: dict) -> None:
    state["updated_unix"] = time.time()
    path = status_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, path)


def run(index: Path) -> int:
    state = {"state": "starting", "index_id": None, "pid": os.getpid(), "last_error": None}
    reload_requested = [True]

    def on_hup(signum, frame):
        reload_requested[0] = True

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        if reload_requested[0]:
            reload_requested[0] = False
            real = index.resolve()
            problem = verify(real)
            manifest = {}
            if problem is None:
                manifest = json.loads((real / "manifest.json").read_text())
                if manifest.get("refuse"):
                    problem = f"{real}: refused (incompatible index)"
            if problem:
                state["last_error"] = f"reload refused, keeping the old index: {problem}"
            else:
                state.update(index_id=manifest["index_id"], index_path=str(real), last_error=None)
            state["state"] = "running" if state["index_id"] else "degraded"
            write_status(state)
        elif time.time() - state.get("updated_unix", 0) > 1:
            write_status(state)  # fresh, as the real kiosk's status.interval_s
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        print("kiosk (test stand-in)")
        return 0
    if argv[:2] == ["index", "verify"]:
        problem = verify(Path(argv[2]))
        if problem:
            print(f"verify: FAILED: {problem}", file=sys.stderr)
            return 1
        print("verify: ok")
        return 0
    if argv[:1] == ["status"]:
        try:
            sys.stdout.write(status_path().read_text())
        except OSError as exc:
            print(f"no status: {exc}", file=sys.stderr)
            return 1
        return 0
    if argv[:1] == ["run"]:
        return run(Path(argv[argv.index("--index") + 1]))
    print(f"stand-in kiosk: unsupported {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
