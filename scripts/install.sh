#!/usr/bin/env bash
# Provision a Raspberry Pi OS (bookworm) machine as a Move Mirror kiosk, from this checkout.
#
#   sudo scripts/install.sh [options]
#   scripts/install.sh --dry-run        # print every step, change nothing (no root needed)
#
# Steps: apt packages -> groups and the `mirror` user -> directories -> the source in
# /opt/move-mirror/src and a venv (--system-site-packages, for apt's picamera2, libcamera, pygame
# and python3-systemd) at /opt/move-mirror/venv -> /usr/local/bin/kiosk -> /etc/move-mirror/kiosk.yaml
# (kept if present) -> models fetched into /var/lib/move-mirror/models -> the index root
# /var/lib/move-mirror/index -> the systemd unit installed and enabled (tty1's getty disabled).
# Running it again upgrades the source and the venv and keeps the configuration and the indexes.
#
# Options:
#   --dry-run            print the commands instead of running them
#   --no-apt             skip apt-get (packages already installed)
#   --coral              also install libedgetpu1-std (needs Coral's apt repository configured)
#   --mirror DIR         copy models from this asset mirror instead of downloading them
#   --deploy-user NAME   let NAME deploy indexes: group `mirror` (index root is group-writable)
#                        and `sudo systemctl reload move-mirror` without a password
#   --start              start (or restart) the kiosk at the end
#   --uninstall          remove everything this script made: the unit, the sudoers rule, /opt/move-mirror,
#                        /usr/local/bin/kiosk, /etc/move-mirror, /var/lib/move-mirror (models AND
#                        indexes), /var/cache/move-mirror, the `mirror` user and the groups it created;
#                        getty@tty1 enabled again. apt packages and the system's own groups stay.
#   -h, --help           this help
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/move-mirror
VENV=$PREFIX/venv
APP_SRC=$PREFIX/src
ETC=/etc/move-mirror
STATE=/var/lib/move-mirror
CACHE=/var/cache/move-mirror
RUNTIME=/run/move-mirror
UNIT_DIR=/etc/systemd/system
WATCHDOG_CONF=/etc/systemd/system.conf.d/move-mirror-watchdog.conf  # the hardware watchdog drop-in
SERVICE_USER=mirror
GROUPS_NEEDED=(video render input plugdev tty)
PIP_EXTRAS=video,display,systemd
CREATED_GROUPS_FILE=$PREFIX/created-groups
APT_PACKAGES=(
  python3 python3-venv python3-pip           # the venv (with apt's packages visible)
  python3-picamera2 python3-libcamera        # the camera (only from apt)
  rpicam-apps-lite                           # rpicam-hello --list-cameras for `kiosk doctor`
  python3-pygame libsdl2-2.0-0 libgbm1 libdrm2 libegl1   # the screen through SDL kmsdrm
  python3-systemd                            # sd_notify through python-systemd
  python3-numpy python3-yaml python3-pil python3-av       # the rest from apt where it has them
  rsync                                      # deploys upload with rsync over ssh
)

DRY_RUN=0
DO_APT=1
CORAL=0
MIRROR=""
DEPLOY_USER=""
START=0
UNINSTALL=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-apt) DO_APT=0 ;;
    --coral) CORAL=1 ;;
    --mirror) MIRROR=${2:?--mirror needs a directory}; shift ;;
    --deploy-user) DEPLOY_USER=${2:?--deploy-user needs a user name}; shift ;;
    --start) START=1 ;;
    --uninstall) UNINSTALL=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n==> %s\n' "$*"; }

# systemd_running: false in a chroot or an image being built (enable/disable still work offline).
systemd_running() { [ -d /run/systemd/system ]; }

# run CMD...: run it, or print it (shell-quoted) in a dry run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    "$@"
  fi
}

# write_file DEST MODE: stdin to DEST (atomically), or show it in a dry run.
write_file() {
  local dest=$1 mode=$2 tmp
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ write %s (mode %s):\n' "$dest" "$mode"
    sed 's/^/|   /'
    return
  fi
  tmp=$(mktemp "$dest.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}

as_service_user() { run runuser -u "$SERVICE_USER" -- "$@"; }

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo scripts/install.sh), or with --dry-run to see the steps" >&2
  exit 1
fi
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != bookworm ]; then
    echo "install.sh: warning: written for Raspberry Pi OS bookworm, this is ${PRETTY_NAME:-unknown}" >&2
  fi
fi
[ "$DRY_RUN" = 1 ] && echo "install.sh: dry run: nothing is changed"

uninstall() {
  step "uninstall: the unit"
  if [ -e "$UNIT_DIR/move-mirror.service" ] || [ "$DRY_RUN" = 1 ]; then
    run systemctl disable --now move-mirror.service || true
  fi
  run rm -rf "$UNIT_DIR/move-mirror.service" "$UNIT_DIR/move-mirror.service.d" /etc/sudoers.d/move-mirror \
    "$WATCHDOG_CONF"
  if systemd_running || [ "$DRY_RUN" = 1 ]; then
    run systemctl daemon-reload
  fi
  run systemctl enable getty@tty1.service
  step "uninstall: files, the $SERVICE_USER user, the groups install.sh created"
  local made=()
  [ -r "$CREATED_GROUPS_FILE" ] && mapfile -t made < <(sort -u "$CREATED_GROUPS_FILE")
  run rm -rf "$PREFIX" /usr/local/bin/kiosk "$ETC" "$STATE" "$CACHE" "$RUNTIME"
  if getent passwd "$SERVICE_USER" >/dev/null || [ "$DRY_RUN" = 1 ]; then
    run userdel "$SERVICE_USER"
  fi
  if getent group "$SERVICE_USER" >/dev/null; then
    run groupdel "$SERVICE_USER"
  fi
  for group in "${made[@]}"; do
    getent group "$group" >/dev/null && { run groupdel "$group" || echo "keeping group $group (in use)"; }
  done
  step "done: Move Mirror is removed (apt packages and the system's own groups stay)"
}

if [ "$UNINSTALL" = 1 ]; then
  uninstall
  exit 0
fi

if [ "$DO_APT" = 1 ]; then
  step "apt packages"
  run apt-get update
  pkgs=("${APT_PACKAGES[@]}")
  [ "$CORAL" = 1 ] && pkgs+=(libedgetpu1-std)
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
fi

step "groups and the $SERVICE_USER user"
created_groups=()
for group in "${GROUPS_NEEDED[@]}"; do
  if ! getent group "$group" >/dev/null; then
    run groupadd --system "$group"
    created_groups+=("$group")
  fi
done
if ! getent passwd "$SERVICE_USER" >/dev/null; then
  run useradd --system --user-group --home-dir "$STATE" --no-create-home \
    --shell /usr/sbin/nologin --comment "Move Mirror kiosk" "$SERVICE_USER"
fi
run usermod --append --groups "$(IFS=,; echo "${GROUPS_NEEDED[*]}")" "$SERVICE_USER"
if [ -n "$DEPLOY_USER" ]; then
  run usermod --append --groups "$SERVICE_USER" "$DEPLOY_USER"
fi

step "directories"
run install -d -m 0755 "$PREFIX" "$ETC"
run install -d -m 0755 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE" "$STATE/models" "$CACHE"
# The index root: deploys write releases/ and switch `current` here (group mirror may deploy).
run install -d -m 2775 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE/index" "$STATE/index/releases"
# Groups this script created (udev makes render and input on a Pi): --uninstall removes them.
if [ "${#created_groups[@]}" -gt 0 ]; then
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ record ${created_groups[*]} in $CREATED_GROUPS_FILE"
  else
    printf '%s\n' "${created_groups[@]}" >>"$CREATED_GROUPS_FILE"
  fi
fi

# The venv sees apt's packages (--system-site-packages) and must keep apt's numpy (and the rest of
# picamera2's apt stack): constraints from the installed versions (scripts/apt_constraints.py) make
# pip choose the LiteRT/ml_dtypes versions that accept them, or fail saying why.
install_venv() {
  local constraints=$PREFIX/apt-constraints.txt
  if [ ! -x "$VENV/bin/python" ] || [ "$DRY_RUN" = 1 ]; then
    run python3 -m venv --system-site-packages "$VENV"
  fi
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ write $constraints: apt's numpy and picamera2's apt packages, pinned (scripts/apt_constraints.py)"
  else
    "$VENV/bin/python" "$SRC_DIR/scripts/apt_constraints.py" "$APP_SRC/pyproject.toml" "$PIP_EXTRAS" \
      | write_file "$constraints" 0644
    sed 's/^/    /' "$constraints"
  fi
  run "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip -c "$constraints"
  # Editable: the kiosk finds models/manifest.yaml and config/ in $APP_SRC.
  if ! run "$VENV/bin/python" -m pip install --disable-pip-version-check -c "$constraints" \
      -e "${APP_SRC}[$PIP_EXTRAS]"; then
    echo "install.sh: pip cannot install the kiosk while keeping the platform's packages pinned in" \
      "$constraints (see pip's reason above: usually a LiteRT or ml_dtypes release that needs a newer" \
      "numpy than apt's). Nothing was forced; the previous venv may be partly upgraded: rerun after" \
      "fixing, or remove $VENV to start clean." >&2
    exit 1
  fi
  [ "$DRY_RUN" = 1 ] || check_venv_numpy
}

# The venv's numpy must be apt's (the file under /usr/lib/python3), or apt's picamera2 breaks.
check_venv_numpy() {
  local apt_numpy venv_numpy
  apt_numpy=$(python3 -c 'import numpy; print(numpy.__version__, numpy.__file__)' 2>/dev/null || true)
  venv_numpy=$("$VENV/bin/python" -c 'import numpy; print(numpy.__version__, numpy.__file__)')
  echo "numpy in the venv: $venv_numpy"
  if [ -n "$apt_numpy" ] && [ "$apt_numpy" != "$venv_numpy" ]; then
    echo "install.sh: the venv's numpy ($venv_numpy) is not apt's ($apt_numpy): apt's picamera2 and" \
      "libcamera would not import. Remove it (sudo $VENV/bin/pip uninstall numpy) and report this." >&2
    exit 1
  fi
}

step "the source in $APP_SRC and the venv in $VENV"
run rsync -a --delete --exclude .git --exclude '.venv*' --exclude '__pycache__' \
  --exclude '*.tflite' --exclude 'index/releases' --exclude 'index/current' \
  "$SRC_DIR/" "$APP_SRC/"
install_venv
run ln -sfn "$VENV/bin/kiosk" /usr/local/bin/kiosk

step "configuration $ETC/kiosk.yaml"
config_text() {
  sed -e 's|^  path: ""  # index directory|  path: /var/lib/move-mirror/index/current  # index directory|' \
      -e 's|^  path: ""  # status JSON file|  path: /run/move-mirror/status.json  # status JSON file|' \
      "$SRC_DIR/config/kiosk.yaml"
}
if [ "$DRY_RUN" = 1 ]; then
  echo "+ write $ETC/kiosk.yaml (mode 0644) unless it exists (then $ETC/kiosk.yaml.dist):"
  echo "|   config/kiosk.yaml with:"
  config_text | grep -E '^  path: /' | sed 's/^/|   /'
elif [ -e "$ETC/kiosk.yaml" ]; then
  echo "keeping $ETC/kiosk.yaml; the shipped defaults are in $ETC/kiosk.yaml.dist"
  config_text | write_file "$ETC/kiosk.yaml.dist" 0644
else
  config_text | write_file "$ETC/kiosk.yaml" 0644
fi
run "$VENV/bin/kiosk" config check "$ETC/kiosk.yaml"

step "models in $STATE/models"
fetch=(env "KIOSK_MODELS_DIR=$STATE/models" "KIOSK_CACHE_DIR=$CACHE" "$VENV/bin/kiosk" models fetch)
[ -n "$MIRROR" ] && fetch+=(--mirror "$MIRROR")
config_file=$ETC/kiosk.yaml
[ -r "$config_file" ] || config_file=$SRC_DIR/config/kiosk.yaml
# model.name: a manifest name fetches that model; empty (the default) runs the model of whatever
# index is deployed later, so every manifest model is fetched; a .tflite path is the operator's.
model=$(sed -n 's/^  name: \([^ #]*\).*/\1/p' "$config_file" | head -n 1 | tr -d "\"'")
case "$model" in
  *.tflite) echo "model.name is the file $model: nothing to fetch" ;;
  "") as_service_user "${fetch[@]}" ;;
  *) as_service_user "${fetch[@]}" "$model" ;;
esac

if [ -n "$DEPLOY_USER" ]; then
  step "deploys by $DEPLOY_USER: reload without a password"
  printf '%s ALL=(root) NOPASSWD: /usr/bin/systemctl reload move-mirror, /usr/bin/systemctl reload move-mirror.service\n' \
    "$DEPLOY_USER" | write_file /etc/sudoers.d/move-mirror 0440
  run visudo -cf /etc/sudoers.d/move-mirror
fi

# The hardware watchdog (the Pi's bcm2835_wdt, /dev/watchdog): systemd pets it and the board
# resets when systemd itself hangs (RebootWatchdogSec bounds a hung reboot too). docs/fleet.md.
enable_hardware_watchdog() {
  step "hardware watchdog (systemd RuntimeWatchdogSec)"
  if [ ! -e /dev/watchdog ] && [ "$DRY_RUN" != 1 ]; then
    echo "no /dev/watchdog here (a container, or dtparam=watchdog=on missing): hardware watchdog not set"
    return 0
  fi
  run install -d -m 0755 /etc/systemd/system.conf.d
  printf '[Manager]\nRuntimeWatchdogSec=15\nRebootWatchdogSec=2min\n' |
    write_file "$WATCHDOG_CONF" 0644
  if systemd_running || [ "$DRY_RUN" = 1 ]; then
    run systemctl daemon-reexec
  fi
}

install_unit() {
  run install -m 0644 "$SRC_DIR/systemd/move-mirror.service" "$UNIT_DIR/move-mirror.service"
  if systemd_running || [ "$DRY_RUN" = 1 ]; then
    run systemctl daemon-reload
  else
    echo "systemd is not running here (a chroot or an image build): the unit is enabled, and starts at boot"
  fi
  # The kiosk owns tty1 (kmsdrm): no login prompt there.
  run systemctl disable getty@tty1.service
  run systemctl enable move-mirror.service
  if [ "$START" = 1 ]; then
    if systemd_running || [ "$DRY_RUN" = 1 ]; then
      run systemctl restart move-mirror.service
    else
      echo "install.sh: --start ignored: systemd is not running" >&2
    fi
  fi
}

step "the systemd unit"
install_unit
enable_hardware_watchdog

step "done"
cat <<EOF
The kiosk runs as '$SERVICE_USER' from $VENV ($RUNTIME/status.json holds its status).
Next:
  kiosk doctor                          # camera, models, Edge TPU, index, display, groups
  scripts/deploy.sh INDEX_DIR HOST      # from the workstation: push an index into $STATE/index
  sudo systemctl start move-mirror      # (or reboot); journalctl -u move-mirror -f for its log
  kiosk status                          # what it is doing
EOF
