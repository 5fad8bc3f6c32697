#!/usr/bin/env bash
# Build (or reuse) a Debian bookworm rootfs tarball for the install tests (tests/system, test_arm64.sh).
#
#   scripts/test_rootfs.sh ARCH        # amd64 | arm64; prints the tarball's path on stdout
#
# The tarball lives in $KIOSK_ROOTFS_CACHE (default /var/cache/move-mirror-test), named by the
# architecture and a hash of everything that goes into it (suite, mirror, package list, this
# script's recipe version), so a changed package list builds a new one. A cached tarball is reused
# while it is younger than $KIOSK_ROOTFS_MAX_AGE_DAYS (default 14: Debian's security updates go
# into the next one); it is written to a temporary name and renamed, so a crash never leaves a
# half tarball that looks complete. Needs root, mmdebstrap (and qemu-user-static + binfmt for a
# foreign architecture: see scripts/test_arm64.sh).
set -euo pipefail

ARCH=${1:?usage: scripts/test_rootfs.sh amd64|arm64}
CACHE_DIR=${KIOSK_ROOTFS_CACHE:-/var/cache/move-mirror-test}
MAX_AGE_DAYS=${KIOSK_ROOTFS_MAX_AGE_DAYS:-14}
SUITE=bookworm
# KIOSK_DEBIAN_MIRROR: a Debian archive URI; unset, mmdebstrap uses its own default archive and
# adds the updates and security suites itself.
MIRROR=${KIOSK_DEBIAN_MIRROR:-}
mirrors=()
[ -n "$MIRROR" ] && mirrors=("$MIRROR" "${MIRROR%/debian}/debian-security $SUITE-security main")
RECIPE=1
# What Raspberry Pi OS bookworm gives the kiosk from apt (install.sh's list, less what only
# Raspberry Pi's archive has: python3-picamera2, python3-libcamera, rpicam-apps-lite), plus a
# booted systemd.
PACKAGES=(
  systemd systemd-sysv dbus libpam-systemd procps sudo ca-certificates
  python3 python3-venv python3-pip
  python3-pygame libsdl2-2.0-0 libgbm1 libdrm2 libegl1
  python3-systemd python3-numpy python3-yaml python3-pil python3-av rsync
)

key=$(printf '%s\n' "$RECIPE" "$SUITE" "${MIRROR:-default}" "$ARCH" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
tarball=$CACHE_DIR/$SUITE-$ARCH-$key.tar

if [ -s "$tarball" ] && [ -z "$(find "$tarball" -mtime "+$MAX_AGE_DAYS")" ]; then
  echo "test_rootfs.sh: reusing $tarball" >&2
  echo "$tarball"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "test_rootfs.sh: needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
mkdir -p "$CACHE_DIR"
tmp=$tarball.partial.$$
trap 'rm -f "$tmp"' EXIT
echo "test_rootfs.sh: building $tarball (bookworm $ARCH, ${#PACKAGES[@]} packages)" >&2
start=$(date +%s)
packages=$(IFS=,; echo "${PACKAGES[*]}")
nice -n 10 mmdebstrap --quiet --variant=minbase --architectures="$ARCH" --include="$packages" \
  --format=tar "$SUITE" "$tmp" ${mirrors[@]+"${mirrors[@]}"} >&2
mv -f "$tmp" "$tarball"
trap - EXIT
# Expired tarballs go (not merely other keys: another branch's package list may be in use).
find "$CACHE_DIR" -maxdepth 1 -name "$SUITE-$ARCH-*.tar" -mtime "+$MAX_AGE_DAYS" -delete
echo "test_rootfs.sh: built in $(( $(date +%s) - start )) s" >&2
echo "$tarball"
