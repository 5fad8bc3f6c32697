#!/usr/bin/env bash
# The kiosk demo (README): the squats recording replayed as "the camera", answered by the demo index
# (other people: every suitable person in the PoseNet demo photos and the COCO slice; never the
# recording itself). The debug overlay stays as configured (off by default).
#   1. creates .venv (python3 -m venv) and installs the kiosk with the video, display and fast extras;
#   2. fetches the pose models (from the asset mirror KIOSK_ASSET_MIRROR, default ../shared if it
#      exists, else from their upstream addresses, pinned by sha256);
#   3. builds the demo index once (`kiosk index demo`; reused while it verifies);
#   4. runs the kiosk: in a window when a display is available (Esc or closing it stops it), else
#      headless (SDL's dummy driver) for one pass of the recording, saving a screenshot each time
#      the shown photo changes, plus the last frame, into <cache>/demo-screens (or
#      $KIOSK_DEMO_SCREENS; <cache> is $KIOSK_CACHE_DIR, default ~/.cache/move-mirror).
#   The debug overlay (fps, pose rate, per-stage ms, what is on screen) is off, as in a gallery;
#   --debug turns it on (display.debug_overlay).
# Options: --headless forces step 4's headless run; --debug shows the debug overlay; other arguments
# go to `kiosk run`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
here=$(pwd)
PYTHON="${PYTHON:-python3}"

headless=0
debug=false
run_args=()
for arg in "$@"; do
  case "$arg" in
    --headless) headless=1 ;;
    --debug) debug=true ;;
    *) run_args+=("$arg") ;;
  esac
done

if [ -z "${KIOSK_ASSET_MIRROR:-}" ] && [ -d "$here/../shared" ]; then
  KIOSK_ASSET_MIRROR="$(cd "$here/../shared" && pwd)"
  export KIOSK_ASSET_MIRROR
fi

# 1. the virtual environment
if [ ! -x .venv/bin/python ]; then
  echo "demo: creating .venv"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import kiosk, av, pygame, numba" >/dev/null 2>&1; then
  echo "demo: installing the kiosk into .venv (pip install -e '.[video,display,fast]')"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[video,display,fast]'
fi
kiosk=(.venv/bin/kiosk)

# 2. models, 3. the demo index
"${kiosk[@]}" models fetch
index=$("${kiosk[@]}" index demo | tail -n 1)
if ! .venv/bin/python -c "import sys; from kiosk.gallery.reader import GalleryIndex; GalleryIndex.open(sys.argv[1])" \
    "$index" 2>/dev/null; then
  echo "demo: the demo index at $index does not open (an older format?): rebuilding it"
  rm -rf "$index"
  index=$("${kiosk[@]}" index demo | tail -n 1)
fi
if [ ! -f "$index/manifest.json" ]; then
  echo "demo: the demo index was not built (got '$index')" >&2
  exit 1
fi

# the recording the kiosk sees as its camera
cache="${KIOSK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/move-mirror}"
recording="${KIOSK_DEMO_RECORDING:-}"
if [ -z "$recording" ]; then
  for candidate in "$cache/demo-assets/pose_squats.mp4" "${KIOSK_ASSET_MIRROR:-/nonexistent}/data/recordings/pose_squats.mp4"; do
    if [ -f "$candidate" ]; then recording="$candidate"; break; fi
  done
fi
if [ -z "$recording" ]; then
  echo "demo: pose_squats.mp4 not found (set KIOSK_DEMO_RECORDING or KIOSK_ASSET_MIRROR)" >&2
  exit 1
fi

# 4. the kiosk
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
config="$workdir/demo.yaml"
if [ "$headless" = 0 ] && [ "${SDL_VIDEODRIVER:-}" != dummy ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  cat >"$config" <<EOF
display: {width: 1280, height: 720, fullscreen: false, debug_overlay: $debug}
status: {path: $workdir/status.json}
EOF
  echo "demo: the kiosk in a window (Esc or close the window to stop); camera = $recording"
  exec "${kiosk[@]}" run --config "$config" --index "$index" --source "replay:$recording" \
    --realtime --loop ${run_args[@]+"${run_args[@]}"}
fi

screens="${KIOSK_DEMO_SCREENS:-$cache/demo-screens}"
rm -rf "$screens"
mkdir -p "$screens"
cat >"$config" <<EOF
display: {debug_overlay: $debug}
status: {path: $workdir/status.json}
EOF
echo "demo: no display: running headless (SDL_VIDEODRIVER=dummy), one pass of $recording"
SDL_VIDEODRIVER=dummy "${kiosk[@]}" run --config "$config" --index "$index" --source "replay:$recording" \
  --realtime --once --max-frames 5000 --screenshots "$screens" ${run_args[@]+"${run_args[@]}"}
count=$(find "$screens" -name '*.png' | wc -l)
echo "demo: $count screenshots in $screens (one per change once its crossfade has finished, named"
echo "      frameNNNNN_entryE.png; a change cut short while fading is named ..._fading.png; plus last.png)"
