#!/usr/bin/env bash
# The numpy 1.24 leg of scripts/test.sh (Raspberry Pi OS bookworm's numpy, tflite-runtime 2.14):
# creates .venv-np124, installs numpy 1.24.4, tflite-runtime 2.14.0, LiteRT and the project's light
# dependencies, and runs the pure tests (pose, matching, assets) with tflite-runtime forced.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
here=$(pwd)
export KIOSK_ASSET_MIRROR="${KIOSK_ASSET_MIRROR:-$(cd "$here/.." && pwd)/shared}"
PYTHON="${PYTHON:-python3}"
venv=.venv-np124
start=$(date +%s)

if [ ! -x "$venv/bin/python" ]; then
  "$PYTHON" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip >/dev/null
# One resolver run, numpy pinned, so nothing drags numpy 2 in.
"${pip[@]}" numpy==1.24.4 tflite-runtime==2.14.0 ai-edge-litert==2.3.0 \
  'Pillow>=9.4' 'PyYAML>=6.0' 'flatbuffers>=23.5' 'pytest>=7.4' 'pytest-xdist>=3.5' 'hypothesis>=6.80'
"${pip[@]}" --no-deps -e . >"$venv/install.log" 2>&1 || { cat "$venv/install.log" >&2; exit 1; }

"$venv/bin/python" - <<'PY'
import numpy, tflite_runtime, ai_edge_litert.interpreter  # noqa: F401
assert numpy.__version__ == "1.24.4", numpy.__version__
print(f"np124 leg: numpy {numpy.__version__}, tflite-runtime {tflite_runtime.__version__}")
PY
# Two pytest-xdist workers like the main leg (KIOSK_TEST_WORKERS; 0: one process).
KIOSK_TFLITE_BACKEND=tflite "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  -n "${KIOSK_TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder tests/pose tests/match tests/assets "$@"
echo "np124 leg: $(( $(date +%s) - start )) s"
