#!/usr/bin/env bash
# The project's test command (README, .ci/run). On a fresh machine it:
#   1. installs the system tools the tests drive (openssh-server, rsync, strace, chromium for the
#      curator report's browser test) when root and missing;
#   2. creates .venv and installs the kiosk with its test, bench and cluster (Ray) extras;
#   3. runs ruff, the layer contracts (lint-imports), the type checker (mypy), checks that the
#      generated reference docs are current (python -m kiosk.cli.docgen --check), then the whole
#      pytest suite with the real models/data in ../shared as the asset mirror;
#   4. runs the pose and matching tests again on numpy 1.24 with tflite-runtime 2.14
#      (Raspberry Pi OS bookworm's numpy), in .venv-np124;
#   5. runs the system tests (tests/system, `pytest -m system`): scripts/install.sh for real in a
#      booted Debian bookworm container and the shipped unit under its systemd. They need root
#      (mmdebstrap and systemd-container are installed when missing); otherwise they skip, saying
#      why, except as root with CI=true, where they fail. KIOSK_SKIP_SYSTEM=1 skips the step;
#   6. with KIOSK_TEST_ARM64=1 (as root), scripts/test_arm64.sh: the same install in an arm64
#      bookworm userland under qemu-user (8 min with a cached rootfs on a busy 2-core machine; the
#      arm64 rootfs build adds 5-30 min, by load).
# Steps 4-6 run when test.sh gets no arguments (as in CI).
# Extra arguments go to the main pytest run (e.g. scripts/test.sh -k vptree -x; add -n 0 for one
# process, e.g. with --pdb).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
here=$(pwd)
export KIOSK_ASSET_MIRROR="${KIOSK_ASSET_MIRROR:-$(cd "$here/.." && pwd)/shared}"
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
PYTHON="${PYTHON:-python3}"

need_apt=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v rsync >/dev/null 2>&1 || need_apt+=(rsync)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v strace >/dev/null 2>&1 || need_apt+=(strace)  # a running kiosk writes only /run
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ "$(id -u)" = 0 ] && [ "${KIOSK_SKIP_SYSTEM:-0}" != 1 ]; then
  command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)
  command -v systemd-nspawn >/dev/null 2>&1 || need_apt+=(systemd-container)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "test.sh: missing ${need_apt[*]}; install them (apt-get install ${need_apt[*]})" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,bench,cluster]'

.venv/bin/python -m ruff check kiosk tests
# layer contracts (pyproject [tool.importlinter]) and types (strict on the seams, [tool.mypy])
.venv/bin/lint-imports --no-cache
.venv/bin/mypy
.venv/bin/python -m kiosk.cli.docgen --check
status=0
# 4. (below) starts first, in the background: the main run leaves CPU idle while it waits on real
#    processes, and the numpy 1.24 leg mostly computes. Its output is shown after the main run.
np124_pid=""
if [ "${KIOSK_SKIP_NP124:-0}" != 1 ] && [ "$#" -eq 0 ]; then
  np124_log=$(mktemp)
  bash scripts/test_np124.sh --basetemp=.venv-np124/tmp >"$np124_log" 2>&1 &
  np124_pid=$!
  trap 'kill "$np124_pid" 2>/dev/null || true' EXIT
fi

# Two pytest-xdist workers (KIOSK_TEST_WORKERS; 0: none): most of the suite waits on real
# processes (sshd, `kiosk run`, Ray, chromium), so two workers halve the wall time even on 2 cores.
# loadscope keeps each module (its module-scoped servers and indexes) on one worker; tests/conftest.py
# hands out the modules with slow tests first (hence no reorder by test count).
workers="${KIOSK_TEST_WORKERS:-2}"
.venv/bin/python -m pytest -m "not system" -n "$workers" --dist loadscope --no-loadscope-reorder "$@" \
  || status=$?

# 4. numpy 1.24 leg (Raspberry Pi OS bookworm): tflite-runtime 2.14 needs numpy<2. LiteRT (whose
#    flatbuffer schema `kiosk models fetch` uses to strip Coral's decoder op) works on 1.24 too,
#    so both runtimes are installed and `kiosk bench pose` can compare them here. The pose tests
#    run with the interpreter forced to tflite-runtime (KIOSK_TFLITE_BACKEND=tflite).
#    It runs when test.sh gets no arguments (as in CI), even if the main run failed (both
#    results count); KIOSK_SKIP_NP124=1 skips it. It was started before the main run (above), in
#    its own pytest basetemp; here we wait for it and show its output.
if [ -n "$np124_pid" ]; then
  np124_status=0
  wait "$np124_pid" || np124_status=$?
  trap - EXIT
  cat "$np124_log"
  rm -f "$np124_log"
  if [ "$np124_status" != 0 ]; then status=$np124_status; fi
fi

# 5. system tests (tests/system/conftest.py decides: run, skip with the reason, or fail on CI).
if [ "${KIOSK_SKIP_SYSTEM:-0}" != 1 ] && [ "$#" -eq 0 ]; then
  .venv/bin/python -m pytest -m system tests/system --durations=10 || status=$?
fi

# 6. arm64 under emulation: only when asked (it needs root, network and about 6-20 minutes).
if [ "${KIOSK_TEST_ARM64:-0}" = 1 ] && [ "$#" -eq 0 ]; then
  bash scripts/test_arm64.sh || status=$?
fi
exit "$status"
