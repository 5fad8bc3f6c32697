#!/usr/bin/env bash
# The kiosk installed by scripts/install.sh in a Debian bookworm arm64 userland (Raspberry Pi OS
# bookworm's base) under qemu-user emulation, then used: models fetched, `kiosk pose` compared with
# this machine's (x86) keypoints, a 30-frame headless `kiosk run` on a replay, and the pose tests.
#
#   sudo scripts/test_arm64.sh            # or KIOSK_TEST_ARM64=1 scripts/test.sh (as root)
#
# Needs root (chroot, mounts), qemu-user-static + binfmt (installed here when missing) and the
# network (Debian's archive, PyPI). The rootfs is cached by scripts/test_rootfs.sh in
# /var/cache/move-mirror-test, pip's cache beside it. Emulation traps handled here:
#   - /proc/cpuinfo shows the x86 host inside the chroot and LiteRT crashes on it: a Raspberry Pi's
#     cpuinfo is bind-mounted over it;
#   - with qemu's default CPU, XNNPACK silently computes wrong numbers: QEMU_CPU=cortex-a76 with the
#     Pi 5's cpuinfo (KIOSK_ARM64_PI=4: cortex-a72 with a Pi 4's);
#   - pip needs this machine's CA certificates, copied in, and a clean environment.
# Environment: KIOSK_ASSET_MIRROR (default ../shared), KIOSK_ARM64_KEEP=1 keeps the tree for a look,
# KIOSK_ARM64_POSE_TESTS the pose tests to run (default: the real-model, engine, type and preprocessing
# tests, about 2 min emulated; KIOSK_ARM64_POSE_TESTS=tests/pose runs them all, about 20 min).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
here=$(pwd)
SHARED=$(cd "${KIOSK_ASSET_MIRROR:-$here/../shared}" && pwd)
PI=${KIOSK_ARM64_PI:-5}
POSE_TESTS=${KIOSK_ARM64_POSE_TESTS:-"tests/pose/test_movenet_real.py tests/pose/test_engine.py \
tests/pose/test_types.py tests/pose/test_preprocess.py -m 'not slow'"}
PHOTO=data/posenet-demo-images/baseball.jpg
REPLAY=data/recordings/pose_squats.mp4
CACHE=${KIOSK_ROOTFS_CACHE:-/var/cache/move-mirror-test}
start=$(date +%s)

say() { printf '\n==> [%4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }
die() { echo "test_arm64.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (chroot, mounts, binfmt)"

setup_tools() {
  local need=()
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
  if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" arch-test >/dev/null
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
  grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
    || die "binfmt for qemu-aarch64 is not enabled (update-binfmts --enable qemu-aarch64)"
}

# pi_cpuinfo N: a Raspberry Pi N's /proc/cpuinfo (4 cores), what LiteRT's cpuinfo reads.
pi_cpuinfo() {
  local part variant features model revision
  if [ "$1" = 4 ]; then
    part=0xd08 variant=0x0 revision=3 model="Raspberry Pi 4 Model B Rev 1.5" features="fp asimd evtstrm crc32 cpuid"
  else
    part=0xd0b variant=0x4 revision=1 model="Raspberry Pi 5 Model B Rev 1.0"
    features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
  fi
  for cpu in 0 1 2 3; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n' "$cpu" "$features"
    printf 'CPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' "$variant" "$part" "$revision"
  done
  printf 'Revision\t: %s\nSerial\t\t: 0000000000000000\nModel\t\t: %s\n' \
    "$([ "$1" = 4 ] && echo d03115 || echo d04170)" "$model"
}

ROOT=""
MOUNTS=()
cleanup() {
  local i
  for (( i=${#MOUNTS[@]}-1; i>=0; i-- )); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  if [ -n "$ROOT" ] && [ "${KIOSK_ARM64_KEEP:-0}" != 1 ]; then
    # Only after every mount is gone: never delete through a bind mount.
    # In the background: deleting a whole system takes minutes and the test is over.
    if ! grep -q " ${ROOT%/}/" /proc/self/mounts; then
      nice -n 10 rm -rf --one-file-system "${ROOT%/root}" </dev/null >/dev/null 2>&1 &
    fi
  fi
}
trap cleanup EXIT

bind() {  # bind HOST GUEST [ro]
  local dest=$ROOT$2
  if [ -d "$1" ]; then mkdir -p "$dest"; else mkdir -p "$(dirname "$dest")"; touch "$dest"; fi
  mount --bind "$1" "$dest"
  MOUNTS+=("$dest")
  [ "${3:-}" = ro ] && mount -o remount,bind,ro "$dest"
  return 0
}

# inside CMD...: run in the arm64 chroot, clean environment, the emulated CPU matching the cpuinfo.
inside() {
  local cpu=cortex-a76
  [ "$PI" = 4 ] && cpu=cortex-a72
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    QEMU_CPU="$cpu" SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy \
    KIOSK_MODELS_DIR=/var/lib/move-mirror/models KIOSK_CACHE_DIR=/var/cache/move-mirror \
    chroot "$ROOT" "$@"
}

setup_tools
say "rootfs (bookworm arm64)"
tarball=$(bash scripts/test_rootfs.sh arm64)
work=$(mktemp -d /var/tmp/move-mirror-arm64.XXXXXX)
ROOT=$work/root
mkdir -p "$ROOT"
tar -xf "$tarball" -C "$ROOT"
say "unpacked into $ROOT"

# What the chroot needs from this machine: CA certificates and DNS for pip, the Pi's cpuinfo.
mkdir -p "$ROOT/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
pi_cpuinfo "$PI" >"$work/cpuinfo"
mkdir -p "$CACHE/pip-arm64"
rsync -a --exclude .git --exclude '.venv*' --exclude __pycache__ --exclude .cache-kiosk --exclude '*.tflite' \
  "$here/" "$ROOT/srv/move-mirror-src/"
bind /proc /proc
bind "$work/cpuinfo" /proc/cpuinfo ro
bind /sys /sys
bind /dev /dev
bind /dev/pts /dev/pts
bind "$SHARED" /srv/shared ro
bind "$CACHE/pip-arm64" /root/.cache/pip
inside uname -m | grep -qx aarch64 || die "the chroot does not run arm64 code"
inside grep -q "Raspberry Pi $PI" /proc/cpuinfo || die "the Pi $PI cpuinfo is not in place"

say "scripts/install.sh (for real, --no-apt: Debian's share of the apt list is in the rootfs)"
inside /srv/move-mirror-src/scripts/install.sh --no-apt --mirror /srv/shared
inside /opt/move-mirror/venv/bin/python -c 'import numpy, sys
assert numpy.__file__.startswith("/usr/lib/python3/dist-packages/"), numpy.__file__
print("numpy in the venv is apt'"'"'s:", numpy.__version__, numpy.__file__)'

say "kiosk models fetch"
inside /opt/move-mirror/venv/bin/kiosk models fetch --mirror /srv/shared movenet-lightning

say "kiosk pose on $PHOTO: arm64 (emulated $PI) against x86"
inside /opt/move-mirror/venv/bin/kiosk pose --json --model movenet-lightning --delegate cpu "/srv/shared/$PHOTO" >"$work/pose-arm64.json"
x86_python=python3
[ -x .venv/bin/python ] && x86_python=.venv/bin/python
KIOSK_MODELS_DIR="$work/models-x86" "$x86_python" -m kiosk models fetch --mirror "$SHARED" movenet-lightning >/dev/null
KIOSK_MODELS_DIR="$work/models-x86" "$x86_python" -m kiosk pose --json --model movenet-lightning --delegate cpu "$SHARED/$PHOTO" >"$work/pose-x86.json"
"$x86_python" scripts/compare_poses.py "$work/pose-x86.json" "$work/pose-arm64.json" --tolerance 0.01

say "a 30-frame headless kiosk run on a replay, with an index built on arm64"
inside runuser -u mirror -- env KIOSK_MODELS_DIR=/var/lib/move-mirror/models \
  /opt/move-mirror/venv/bin/kiosk index build /srv/shared/data/posenet-demo-images \
  -o /var/lib/move-mirror/index/releases/arm64 --model movenet-lightning --quiet
inside /opt/move-mirror/venv/bin/kiosk run --config /etc/move-mirror/kiosk.yaml \
  --index /var/lib/move-mirror/index/releases/arm64 --source "replay:/srv/shared/$REPLAY" \
  --headless --fast --max-frames 30 --status-file /tmp/status.json
inside python3 -c 'import json; s = json.load(open("/tmp/status.json"))
assert s["frames"] == 30 and s["index_id"], s
print("30 frames, index", s["index_id"], "-", s["state"])'

say "the pose tests on arm64: $POSE_TESTS"
inside /opt/move-mirror/venv/bin/python -m pip install -q -c /opt/move-mirror/apt-constraints.txt pytest hypothesis
inside bash -c "cd /srv/move-mirror-src && KIOSK_ASSET_MIRROR=/srv/shared KIOSK_MODELS_DIR= \
  /opt/move-mirror/venv/bin/python -m pytest -q -p no:cacheprovider $POSE_TESTS"

say "all passed in $(( $(date +%s) - start )) s"
