#!/usr/bin/env bash
# Push a gallery index to one or many Move Mirror kiosks: a thin wrapper over `kiosk deploy`
# (kiosk/fleet/, docs/fleet.md), which uploads with rsync over ssh, verifies on the kiosk,
# switches atomically as a transaction the kiosk reverts by itself unless confirmed healthy,
# health-checks, and rolls back on any failure.
#
#   scripts/deploy.sh [options] INDEX_DIR HOST...
#   scripts/deploy.sh [options] INDEX_DIR --hosts FILE
#   scripts/deploy.sh [options] INDEX_DIR HOST... --config kiosk.yaml   (a config served with it)
#   scripts/deploy.sh [options] --rollback HOST...
#
# Every option of `kiosk deploy --help` is accepted. The kiosk command is the one on PATH, else
# the one in this checkout's .venv (scripts/test.sh or `pip install -e .` creates it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if command -v kiosk >/dev/null 2>&1; then
  kiosk=$(command -v kiosk)
elif [ -x "$here/.venv/bin/kiosk" ]; then
  kiosk=$here/.venv/bin/kiosk
else
  echo "deploy.sh: the kiosk command is neither on PATH nor in $here/.venv (python3 -m venv .venv &&" \
    ".venv/bin/pip install -e .)" >&2
  exit 2
fi
exec "$kiosk" deploy "$@"
