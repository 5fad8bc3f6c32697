#!/usr/bin/env bash
# shellcheck disable=SC2016  # the remote scripts are single-quoted on purpose: they expand on the host
# Push a gallery index to one or many Move Mirror kiosks: upload, verify, switch atomically,
# reload, health-check, and roll back on any failure.
#
#   scripts/deploy.sh [options] INDEX_DIR HOST...
#   scripts/deploy.sh [options] INDEX_DIR --hosts FILE
#   scripts/deploy.sh [options] --rollback HOST...
#
# HOST is [user@]host[:port]. A hosts FILE has one HOST per line; blank lines and # comments are
# ignored.
#
# On each kiosk, under the index root (--index-root; default: the host's $KIOSK_INDEX_ROOT, else
# /var/lib/move-mirror/index):
#   releases/<index-id>/            one directory per deployed index (named by its manifest's index id)
#   releases/.incoming-<index-id>/  the upload staging area (rsync --partial: a re-run resumes it)
#   current  -> releases/<id>       what the kiosk serves (replaced by rename(2), never deleted first)
#   previous -> releases/<id>       what `--rollback` returns to
#
# Steps per host: probe (ssh, kiosk command, free space) -> upload into the staging dir -> `kiosk
# index verify` on the host -> rename staging to releases/<id> -> new symlink renamed over `current`
# -> reload -> `kiosk status --json` until it reports the new index id -> prune old releases.
# If verify fails, nothing is switched. If reload or the health check fails, `current` is renamed
# back to the old release and the kiosk reloaded again. Exit status: 0 all hosts ok, 1 some host
# failed, 2 bad usage or a bad INDEX_DIR.
#
# Options:
#   --hosts FILE           read hosts from FILE (one per line)
#   --rollback             switch each HOST back to its `previous` release (no INDEX_DIR)
#   --dry-run              probe each host (read only) and print what would happen
#   --index-root DIR       index root on the kiosks
#   --remote-kiosk CMD     the kiosk command on the hosts (default: kiosk)
#   --local-kiosk CMD      the kiosk command here, for the local verify (default: kiosk on PATH,
#                          else the checkout's .venv/bin/kiosk)
#   --no-local-verify      skip `kiosk index verify INDEX_DIR` here
#   --reload-cmd CMD       run on the host to reload (default: systemctl reload move-mirror)
#   --status-timeout S     seconds to wait for the kiosk to report the new index (default: 30)
#   --keep N               keep the N newest releases per host, and always current and previous
#                          (default: 3); older ones are deleted after a successful switch
#   --parallel N           hosts deployed at the same time (default: 4)
#   -p, --port PORT        ssh port (a host's own :port wins)
#   -i, --identity FILE    ssh identity file
#   -l, --user USER        ssh user (a host's own user@ wins)
#   -o, --ssh-option OPT   extra ssh -o option (repeatable), e.g. -o StrictHostKeyChecking=no
#   --connect-timeout S    ssh ConnectTimeout (default: 10)
#   --io-timeout S         rsync --timeout and ssh keep-alive budget (default: 60)
#   --command-timeout S    bound on each remote command such as verify (default: 600)
#   --rsync-path CMD       rsync program on the hosts (default: rsync)
#   --bwlimit KBPS         limit the upload bandwidth per host (rsync --bwlimit, KiB/s)
#   -h, --help             this help
#
# Test hooks (environment): DEPLOY_TEST_PAUSE_AT=upload|switch|reload pauses for
# DEPLOY_TEST_PAUSE_SECONDS (default 30) in the middle of that step (upload: after half the files;
# switch: after the new links are made, before the renames; reload: after the switch, before the
# reload), so tests can kill the deploy there. DEPLOY_TRACE=1 traces the script with timestamps.

set -euo pipefail

PROG=deploy.sh
INDEX_ROOT=""
REMOTE_KIOSK="kiosk"
# here: `kiosk` on PATH, else the checkout's .venv (what scripts/demo.sh and test.sh create)
LOCAL_KIOSK="kiosk"
if ! command -v kiosk >/dev/null 2>&1; then
  LOCAL_KIOSK="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin/kiosk"
fi
LOCAL_VERIFY=1
RELOAD_CMD="systemctl reload move-mirror"
STATUS_TIMEOUT=30
KEEP=3
PARALLEL=4
SSH_PORT=""
SSH_IDENTITY=""
SSH_USER=""
SSH_OPTIONS=()
CONNECT_TIMEOUT=10
IO_TIMEOUT=60
COMMAND_TIMEOUT=600
RSYNC_PATH=""
BWLIMIT=""
DRY_RUN=0
MODE=deploy
HOSTS_FILE=""
INDEX_DIR=""
INDEX_ID=""
INDEX_KB=0
HOSTS=()

usage() {
  sed -n '3,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {
  local code=$1
  shift
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit "$code"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# ---------------------------------------------------------------- arguments
parse_args() {
  local positional=()
  while [ $# -gt 0 ]; do
    case $1 in
      -h|--help) usage; exit 0 ;;
      --hosts) HOSTS_FILE=${2:?--hosts needs a FILE}; shift ;;
      --rollback) MODE=rollback ;;
      --dry-run) DRY_RUN=1 ;;
      --index-root) INDEX_ROOT=${2:?--index-root needs a DIR}; shift ;;
      --remote-kiosk) REMOTE_KIOSK=${2:?--remote-kiosk needs a CMD}; shift ;;
      --local-kiosk) LOCAL_KIOSK=${2:?--local-kiosk needs a CMD}; shift ;;
      --no-local-verify) LOCAL_VERIFY=0 ;;
      --reload-cmd) RELOAD_CMD=${2:?--reload-cmd needs a CMD}; shift ;;
      --status-timeout) STATUS_TIMEOUT=${2:?--status-timeout needs seconds}; shift ;;
      --keep) KEEP=${2:?--keep needs N}; shift ;;
      --parallel) PARALLEL=${2:?--parallel needs N}; shift ;;
      -p|--port) SSH_PORT=${2:?--port needs a PORT}; shift ;;
      -i|--identity) SSH_IDENTITY=${2:?--identity needs a FILE}; shift ;;
      -l|--user) SSH_USER=${2:?--user needs a USER}; shift ;;
      -o|--ssh-option) SSH_OPTIONS+=(-o "${2:?--ssh-option needs OPTION=VALUE}"); shift ;;
      --connect-timeout) CONNECT_TIMEOUT=${2:?--connect-timeout needs seconds}; shift ;;
      --io-timeout) IO_TIMEOUT=${2:?--io-timeout needs seconds}; shift ;;
      --command-timeout) COMMAND_TIMEOUT=${2:?--command-timeout needs seconds}; shift ;;
      --rsync-path) RSYNC_PATH=${2:?--rsync-path needs a CMD}; shift ;;
      --bwlimit) BWLIMIT=${2:?--bwlimit needs KiB/s}; shift ;;
      --) shift; positional+=("$@"); break ;;
      -*) die 2 "unknown option: $1 (see --help)" ;;
      *) positional+=("$1") ;;
    esac
    shift
  done
  local name value
  for name in STATUS_TIMEOUT KEEP PARALLEL CONNECT_TIMEOUT IO_TIMEOUT COMMAND_TIMEOUT; do
    value=${!name}
    is_uint "$value" || die 2 "--$(tr 'A-Z_' 'a-z-' <<<"$name") must be a whole number, not '$value'"
  done
  [ "$PARALLEL" -ge 1 ] || die 2 "--parallel must be at least 1"
  [ "$KEEP" -ge 1 ] || die 2 "--keep must be at least 1"
  [ -z "$SSH_PORT" ] || is_uint "$SSH_PORT" || die 2 "--port must be a number, not '$SSH_PORT'"
  [ -z "$BWLIMIT" ] || is_uint "$BWLIMIT" || die 2 "--bwlimit must be a whole number of KiB/s, not '$BWLIMIT'"

  if [ "$MODE" = deploy ]; then
    [ "${#positional[@]}" -ge 1 ] || { usage >&2; die 2 "missing INDEX_DIR"; }
    INDEX_DIR=${positional[0]}
    positional=("${positional[@]:1}")
  fi
  HOSTS=("${positional[@]}")
  if [ -n "$HOSTS_FILE" ]; then
    [ -r "$HOSTS_FILE" ] || die 2 "cannot read hosts file $HOSTS_FILE"
    local line
    while IFS= read -r line || [ -n "$line" ]; do
      line=${line%%#*}
      line=$(tr -d '[:space:]' <<<"$line")
      [ -z "$line" ] || HOSTS+=("$line")
    done <"$HOSTS_FILE"
  fi
  [ "${#HOSTS[@]}" -ge 1 ] || die 2 "no HOST given (arguments or --hosts FILE)"
  local h
  for h in "${HOSTS[@]}"; do
    [[ $h =~ ^([A-Za-z0-9._-]+@)?[A-Za-z0-9._-]+(:[0-9]+)?$ ]] || die 2 "bad host '$h' (expected [user@]host[:port])"
  done
}

# ---------------------------------------------------------------- local index
json_string_field() { # FIELD < json  -> the first "FIELD": "value"
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" | head -n 1
}

check_local_index() {
  [ -d "$INDEX_DIR" ] || die 2 "INDEX_DIR $INDEX_DIR is not a directory"
  INDEX_DIR=$(cd "$INDEX_DIR" && pwd)
  local manifest="$INDEX_DIR/manifest.json"
  [ -f "$manifest" ] || die 2 "INDEX_DIR $INDEX_DIR is not an index: no manifest.json (build one with 'kiosk index build')"
  INDEX_ID=$(json_string_field index_id <"$manifest")
  [ -n "$INDEX_ID" ] || die 2 "INDEX_DIR $INDEX_DIR is not an index: manifest.json has no index_id"
  [[ $INDEX_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die 2 "index id '$INDEX_ID' has characters unsafe in a path"
  if [ "$LOCAL_VERIFY" = 1 ]; then
    local out
    # shellcheck disable=SC2086  # LOCAL_KIOSK is a command line
    if ! out=$($LOCAL_KIOSK index verify "$INDEX_DIR" 2>&1); then
      die 2 "INDEX_DIR $INDEX_DIR fails local verification ('$LOCAL_KIOSK index verify'): $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    fi
  fi
  INDEX_KB=$(du -sk "$INDEX_DIR" | awk '{print $1}')
}

# ---------------------------------------------------------------- per-host plumbing
have_timeout=0
command -v timeout >/dev/null 2>&1 && have_timeout=1

bounded() { # SECONDS CMD... : run CMD, killed after SECONDS (when coreutils timeout exists)
  local secs=$1
  shift
  if [ "$have_timeout" = 1 ]; then
    timeout -k 5 "$secs" "$@"
  else
    "$@"
  fi
}

# Set by host_setup for the host being worked on (each host runs in its own subshell).
HOST=""
SSH=()
RSH=""

rsh_word() { # quote one word for rsync -e (rsync splits on spaces, honours quotes)
  case $1 in
    *[[:space:]\'\"]*) printf "'%s'" "$1" ;;
    *) printf '%s' "$1" ;;
  esac
}

host_setup() {
  local spec=$1 user port host
  user=$SSH_USER
  port=$SSH_PORT
  host=$spec
  if [[ $host == *@* ]]; then user=${host%%@*}; host=${host#*@}; fi
  if [[ $host == *:* ]]; then port=${host##*:}; host=${host%:*}; fi
  HOST=$host
  SSH=(ssh -o BatchMode=yes -o "ConnectTimeout=$CONNECT_TIMEOUT" -o ServerAliveInterval=5
    -o "ServerAliveCountMax=$(( IO_TIMEOUT / 5 + 1 ))")
  [ -z "$port" ] || SSH+=(-p "$port")
  [ -z "$SSH_IDENTITY" ] || SSH+=(-i "$SSH_IDENTITY" -o IdentitiesOnly=yes)
  [ -z "$user" ] || SSH+=(-l "$user")
  if [ "${#SSH_OPTIONS[@]}" -gt 0 ]; then SSH+=("${SSH_OPTIONS[@]}"); fi
  make_rsh
}

make_rsh() {
  local w
  RSH=""
  for w in "${SSH[@]}"; do RSH+="$(rsh_word "$w") "; done
  RSH=${RSH% }
}

# One ssh connection per host, shared by every later ssh and rsync (ControlMaster). The master
# runs in the foreground as our child, in our process group: killing the deploy kills it too.
MASTER_PID=""
connect_host() { # N
  local sock="$WORK/cm.$1" err="$WORK/cm.$1.err" deadline
  "${SSH[@]}" -o ControlMaster=yes -o "ControlPath=$sock" -o ControlPersist=no -N "$HOST" \
    </dev/null >/dev/null 2>"$err" &
  MASTER_PID=$!
  deadline=$(( $(date +%s) + CONNECT_TIMEOUT + 5 ))
  while [ ! -S "$sock" ]; do
    if ! kill -0 "$MASTER_PID" 2>/dev/null; then
      wait "$MASTER_PID" 2>/dev/null || true
      MASTER_PID=""
      FAIL_REASON=$(ssh_error "$(cat "$err")" 255)
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      disconnect_host
      FAIL_REASON="unreachable: no ssh answer within ${CONNECT_TIMEOUT}s"
      return 1
    fi
    sleep 0.05
  done
  SSH+=(-o ControlMaster=no -o "ControlPath=$sock")
  make_rsh
}

disconnect_host() {
  [ -n "$MASTER_PID" ] || return 0
  kill "$MASTER_PID" 2>/dev/null || true
  wait "$MASTER_PID" 2>/dev/null || true
  MASTER_PID=""
}

# remote SECONDS SCRIPT [ARG...]: run a bash SCRIPT on the host with ARGs; its stdout on ours.
remote() {
  local secs=$1 script=$2
  shift 2
  local args=""
  [ $# -eq 0 ] || args=$(printf ' %q' "$@")
  bounded "$secs" "${SSH[@]}" "$HOST" "bash -s --$args" <<<"$script"
}

LOG_PREFIX=""
say() { printf '%s %s\n' "$LOG_PREFIX" "$*"; }

# Shared remote preamble: the index root and the kiosk command, resolved on the host.
REMOTE_COMMON='
set -u
root=${1:-${KIOSK_INDEX_ROOT:-/var/lib/move-mirror/index}}
kiosk=$2
shift 2
bounded() { local s=$1; shift; if command -v timeout >/dev/null 2>&1; then timeout -k 5 "$s" "$@"; else "$@"; fi; }
'

# probe: one key=value per line; read only.
REMOTE_PROBE=$REMOTE_COMMON'
id=$1
echo "root=$root"
# the kiosk command (its first word; "env X=1 kiosk" style prefixes are skipped) must resolve
set -f
for word in $kiosk; do
  case $word in env|*=*) continue ;; esac
  break
done
set +f
if command -v "$word" >/dev/null 2>&1; then
  echo "kiosk=ok"
else
  echo "kiosk=missing"
  echo "kiosk_error=$word: not found (PATH=$PATH)"
fi
if command -v rsync >/dev/null 2>&1; then echo "rsync=ok"; else echo "rsync=missing"; fi
if [ -e "$root/current" ] && [ ! -L "$root/current" ]; then echo "current_kind=notlink"; fi
echo "current=$(readlink "$root/current" 2>/dev/null || true)"
echo "previous=$(readlink "$root/previous" 2>/dev/null || true)"
if [ -d "$root/releases/$id" ]; then echo "release=yes"; else echo "release=no"; fi
staged=0
[ ! -d "$root/releases/.incoming-$id" ] || staged=$(du -sk "$root/releases/.incoming-$id" | awk "{print \$1}")
echo "staged_kb=$staged"
d=$root
while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
echo "avail_kb=$(df -Pk "$d" | awk "NR==2 {print \$4}")"
'

REMOTE_PREPARE=$REMOTE_COMMON'
id=$1
mkdir -p "$root/releases/.incoming-$id" || exit 3
echo "ok"
'

REMOTE_VERIFY=$REMOTE_COMMON'
dir=$1 secs=$2
bounded "$secs" bash -c "$kiosk index verify \"\$1\"" verify "$dir" 2>&1
'

# promote: staging -> releases/<id> (only after it verified)
REMOTE_PROMOTE=$REMOTE_COMMON'
id=$1
rel="$root/releases/$id"
if [ -d "$root/releases/.incoming-$id" ]; then
  if [ -e "$rel" ]; then
    rm -rf -- "$root/releases/.incoming-$id"
  else
    mv -T "$root/releases/.incoming-$id" "$rel" || exit 3
  fi
fi
[ -d "$rel" ]
'

REMOTE_DROP_STAGING=$REMOTE_COMMON'
rm -rf -- "$root/releases/.incoming-$1"
'

# links: make new symlinks aside (no visible change). Args: CURRENT_TARGET PREVIOUS_TARGET ("" = none)
REMOTE_LINKS=$REMOTE_COMMON'
cur=$1 prev=$2
cd "$root" || exit 3
ln -sfn "$cur" .current.new || exit 3
if [ -n "$prev" ]; then ln -sfn "$prev" .previous.new || exit 3; else rm -f .previous.new; fi
echo ok
'

# commit: rename the prepared symlinks over previous and current (each one rename(2)).
REMOTE_COMMIT=$REMOTE_COMMON'
mode=$1
cd "$root" || exit 3
if [ -L .previous.new ]; then
  mv -T .previous.new previous || exit 3
elif [ "$mode" = clear-previous ]; then
  rm -f previous
fi
mv -T .current.new current || exit 3
touch -h current 2>/dev/null || true
t=$(readlink current)
touch "$t" 2>/dev/null || true
echo "current=$t"
'

# Only when there was no release at all before (first deploy failed): remove current.
REMOTE_UNSET=$REMOTE_COMMON'
rm -f "$root/current" "$root/.current.new" "$root/.previous.new"
'

REMOTE_RELOAD=$REMOTE_COMMON'
cmd=$1 secs=$2
bounded "$secs" bash -c "$cmd" 2>&1
'

REMOTE_STATUS=$REMOTE_COMMON'
bounded 30 bash -c "$kiosk status --json" 2>&1
echo "status_exit=$?"
'

# prune: keep the newest KEEP releases and always current and previous; print what was deleted.
REMOTE_PRUNE=$REMOTE_COMMON'
keep=$1 dry=$2
cd "$root/releases" || exit 0
cur=$(basename "$(readlink ../current 2>/dev/null || echo none)")
prev=$(basename "$(readlink ../previous 2>/dev/null || echo none)")
n=0
for r in $(ls -1t); do
  [ -d "$r" ] || continue
  if [ "$r" = "$cur" ] || [ "$r" = "$prev" ]; then n=$((n + 1)); continue; fi
  n=$((n + 1))
  if [ "$n" -gt "$keep" ]; then
    echo "$r"
    [ "$dry" = 1 ] || rm -rf -- "$r"
  fi
done
# abandoned uploads of other indexes (a re-run of those would upload afresh)
for r in .incoming-*; do
  [ -d "$r" ] && [ "$r" != ".incoming-$3" ] || continue
  echo "$r"
  [ "$dry" = 1 ] || rm -rf -- "$r"
done
'

test_pause() { # STEP
  if [ "${DEPLOY_TEST_PAUSE_AT:-}" = "$1" ]; then
    say "test pause at $1 (pid $$)"
    sleep "${DEPLOY_TEST_PAUSE_SECONDS:-30}"
  fi
}

# Globals filled by probe_host.
P_ROOT="" P_RSYNC="" P_CURRENT_KIND="" P_KIOSK="" P_KIOSK_ERROR="" P_CURRENT="" P_PREVIOUS="" P_RELEASE="" P_STAGED_KB=0 P_AVAIL_KB=0
FAIL_REASON=""

ssh_error() { # OUTPUT RC -> a readable reason for an ssh failure
  local out=$1 rc=$2 last
  last=$(grep -v '^Warning: Permanently added' <<<"$out" | tail -n 1)
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "unreachable: no answer within the timeout"
  elif [ "$rc" = 255 ] && grep -q 'Permission denied' <<<"$last"; then
    echo "ssh login refused (check --user and --identity; BatchMode never asks for a password): $last"
  elif [ "$rc" = 255 ] && grep -qi 'host key' <<<"$out"; then
    echo "ssh host key problem (known_hosts): $last"
  elif [ "$rc" = 255 ]; then
    echo "unreachable: ${last:-ssh failed}"
  else
    echo "remote command failed (exit $rc): $last"
  fi
}

probe_host() {
  local out rc=0 id=${1:-none}
  out=$(remote $(( CONNECT_TIMEOUT + 30 )) "$REMOTE_PROBE" "$INDEX_ROOT" "$REMOTE_KIOSK" "$id" 2>&1) || rc=$?
  if [ "$rc" != 0 ] || ! grep -q '^root=' <<<"$out"; then
    FAIL_REASON=$(ssh_error "$out" "$rc")
    return 1
  fi
  local line
  while IFS= read -r line; do
    case $line in
      root=*) P_ROOT=${line#root=} ;;
      kiosk=*) P_KIOSK=${line#kiosk=} ;;
      kiosk_error=*) P_KIOSK_ERROR=${line#kiosk_error=} ;;
      rsync=*) P_RSYNC=${line#rsync=} ;;
      current_kind=*) P_CURRENT_KIND=${line#current_kind=} ;;
      current=*) P_CURRENT=${line#current=} ;;
      previous=*) P_PREVIOUS=${line#previous=} ;;
      release=*) P_RELEASE=${line#release=} ;;
      staged_kb=*) P_STAGED_KB=${line#staged_kb=} ;;
      avail_kb=*) P_AVAIL_KB=${line#avail_kb=} ;;
    esac
  done <<<"$out"
  if [ "$P_CURRENT_KIND" = notlink ]; then
    FAIL_REASON="$P_ROOT/current exists but is not a symlink; move it to $P_ROOT/releases/<its index id> and make current a symlink to it"
    return 1
  fi
  is_uint "$P_AVAIL_KB" || P_AVAIL_KB=""
  is_uint "$P_STAGED_KB" || P_STAGED_KB=0
  if [ "$P_KIOSK" != ok ]; then
    FAIL_REASON="kiosk command not found or not working on the host ('$REMOTE_KIOSK': ${P_KIOSK_ERROR:-?}); see --remote-kiosk"
    return 1
  fi
  return 0
}

# Run on the host with the resolved root (never re-resolved differently between steps).
rrun() { # SECONDS SCRIPT ARG...
  local secs=$1 script=$2
  shift 2
  remote "$secs" "$script" "$P_ROOT" "$REMOTE_KIOSK" "$@"
}

# read_status: run `kiosk status --json` on the host; sets S_ID, S_HEALTHY (yes/no) and
# LAST_STATUS (one readable line: index, state and, when unhealthy, why).
S_ID="" S_HEALTHY=no LAST_STATUS=""
read_status() {
  local out state problem
  out=$(rrun $(( CONNECT_TIMEOUT + 40 )) "$REMOTE_STATUS" 2>/dev/null) || true
  S_ID=$(json_string_field index_id <<<"$out")
  state=$(json_string_field state <<<"$out")
  S_HEALTHY=no
  # `kiosk status` exits non-zero when the status is stale or the kiosk process is gone
  if grep -q '^status_exit=0$' <<<"$out"; then
    # the healthy states of kiosk.core.enums.ServiceState (tests/core/test_enums.py keeps them in step)
    case $state in
      starting|running|idle|degraded) S_HEALTHY=yes ;;
    esac
  fi
  LAST_STATUS="index ${S_ID:-none}, state ${state:-unknown}"
  if [ "$S_HEALTHY" = no ]; then
    problem=$(awk '/"problems"[[:space:]]*:/ { p = 1; sub(/.*"problems"[[:space:]]*:[[:space:]]*\[/, "") }
      p { end = ($0 ~ /\]/); sub(/\].*/, ""); gsub(/^[[:space:]]*"|"[[:space:]]*,?[[:space:]]*$/, "");
          if ($0 != "") print; if (end) exit }' <<<"$out" | paste -sd ';' -)
    [ -n "$problem" ] || [ -n "$state" ] || problem=$(grep -v '^status_exit=' <<<"$out" | tail -n 1)
    LAST_STATUS+=", unhealthy${problem:+: $problem}"
  fi
  problem=$(json_string_field last_error <<<"$out")
  [ -z "$problem" ] || LAST_STATUS+=", last error: ${problem:0:300}"
}

# wait_for_index ID: poll `kiosk status --json` until a healthy kiosk reports ID (bounded by
# STATUS_TIMEOUT).
wait_for_index() {
  local want=$1 deadline
  deadline=$(( $(date +%s) + STATUS_TIMEOUT ))
  while :; do
    read_status
    if [ "$S_ID" = "$want" ] && [ "$S_HEALTHY" = yes ]; then return 0; fi
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

reload_kiosk() {
  local out rc=0
  out=$(rrun $(( CONNECT_TIMEOUT + 90 )) "$REMOTE_RELOAD" "$RELOAD_CMD" 60 2>&1) || rc=$?
  if [ "$rc" != 0 ]; then
    FAIL_REASON="reload failed ('$RELOAD_CMD', exit $rc): $(tail -n 1 <<<"$out")"
    return 1
  fi
}

# switch_links CURRENT_TARGET PREVIOUS_TARGET MODE
switch_links() {
  local out
  out=$(rrun $(( CONNECT_TIMEOUT + 30 )) "$REMOTE_LINKS" "$1" "$2" 2>&1) || { FAIL_REASON="switch failed: $(tail -n 1 <<<"$out")"; return 1; }
  test_pause switch
  out=$(rrun $(( CONNECT_TIMEOUT + 30 )) "$REMOTE_COMMIT" "$3" 2>&1) || { FAIL_REASON="switch failed: $(tail -n 1 <<<"$out")"; return 1; }
}

# After a failed reload/health check: put current (and previous) back, reload, report.
roll_back() { # REASON OLD_CURRENT OLD_PREVIOUS EXPECTED_ID
  local reason=$1 old_cur=$2 old_prev=$3 old_id
  say "FAILED: $reason; rolling back to ${old_cur:-nothing}"
  if [ -z "$old_cur" ]; then
    rrun $(( CONNECT_TIMEOUT + 30 )) "$REMOTE_UNSET" >/dev/null 2>&1 || true
    reload_kiosk || true
    FAIL_REASON="$reason; no earlier release to roll back to, current removed"
    return 0
  fi
  if ! switch_links "$old_cur" "$old_prev" clear-previous; then
    FAIL_REASON="$reason; ROLLBACK FAILED: $FAIL_REASON"
    return 0
  fi
  if ! reload_kiosk; then
    FAIL_REASON="$reason; rolled back to $old_cur but the reload failed: $FAIL_REASON"
    return 0
  fi
  old_id=$(basename "$old_cur")
  if wait_for_index "$old_id"; then
    FAIL_REASON="$reason; rolled back to $old_id (serving)"
  else
    FAIL_REASON="$reason; rolled back to $old_id but the kiosk reports $LAST_STATUS"
  fi
}

upload() {
  local dest="$P_ROOT/releases/.incoming-$INDEX_ID/"
  # -rlt, not -a: the files belong to the ssh user and are world-readable (the kiosk runs as its
  # own user), whatever their owner and mode on the workstation
  local rsync_opts=(-rlt --perms "--chmod=D0755,F0644" --partial --partial-dir=.rsync-partial --delete
    --timeout="$IO_TIMEOUT" -e "$RSH")
  [ -z "$RSYNC_PATH" ] || rsync_opts+=(--rsync-path="$RSYNC_PATH")
  [ -z "$BWLIMIT" ] || rsync_opts+=(--bwlimit="$BWLIMIT")
  local out rc=0
  if [ "${DEPLOY_TEST_PAUSE_AT:-}" = upload ]; then
    # test hook: upload about half of the files, then pause in the middle of the upload
    local list half listfile="$WORK/files.$BASHPID"
    list=$(cd "$INDEX_DIR" && find . -type f | sort)
    half=$(( ($(wc -l <<<"$list") + 1) / 2 ))
    head -n "$half" <<<"$list" | sed 's|^\./||' >"$listfile"
    out=$(rsync "${rsync_opts[@]}" --files-from="$listfile" "$INDEX_DIR/" "$HOST:$dest" 2>&1) || rc=$?
    say "test: uploaded $half files first (rsync exit $rc) ${out:0:200}"
    rc=0
    test_pause upload
  fi
  out=$(rsync "${rsync_opts[@]}" --stats "$INDEX_DIR/" "$HOST:$dest" 2>&1) || rc=$?
  if [ "$rc" != 0 ]; then
    case $rc in
      255|12) FAIL_REASON="upload failed: unreachable or connection lost ($(grep -v '^Warning' <<<"$out" | head -n 1))" ;;
      30|35) FAIL_REASON="upload failed: timeout (rsync exit $rc)" ;;
      11) FAIL_REASON="upload failed: cannot write on the host (disk full?): $(grep -v '^Warning' <<<"$out" | head -n 1)" ;;
      *) FAIL_REASON="upload failed (rsync exit $rc): $(grep -v '^Warning' <<<"$out" | head -n 1)" ;;
    esac
    return 1
  fi
  local total literal matched
  total=$(sed -n 's/^Total transferred file size: //p' <<<"$out")
  literal=$(sed -n 's/^Literal data: //p' <<<"$out")
  matched=$(sed -n 's/^Matched data: //p' <<<"$out")
  say "uploaded: ${total:-?} (sent ${literal:-?}, reused ${matched:-?} from an earlier partial upload)"
}

deploy_host() {
  local old_cur old_prev new_target="releases/$INDEX_ID" out rc=0 need_kb

  if ! probe_host "$INDEX_ID"; then return 1; fi
  old_cur=$P_CURRENT
  old_prev=$P_PREVIOUS
  say "index root $P_ROOT; current -> ${old_cur:-none}; previous -> ${old_prev:-none}"

  if [ "$old_cur" = "$new_target" ] || [ "$(basename "${old_cur:-x}")" = "$INDEX_ID" ]; then
    if [ "$DRY_RUN" = 1 ]; then
      say "would do nothing: $INDEX_ID is already current (would check kiosk status)"
      return 0
    fi
    read_status
    if [ "$S_ID" = "$INDEX_ID" ] && wait_for_index "$INDEX_ID"; then
      say "already current and serving"
      return 0
    fi
    # switched by an interrupted deploy but never reloaded (or the kiosk restarted): reload now
    say "$INDEX_ID is current but the kiosk reports $LAST_STATUS; reloading"
    if ! reload_kiosk; then
      [ -z "$old_prev" ] || roll_back "$FAIL_REASON" "$old_prev" "$old_cur"
      return 1
    fi
    if ! wait_for_index "$INDEX_ID"; then
      local reason="health check: after ${STATUS_TIMEOUT}s the kiosk reports $LAST_STATUS, not $INDEX_ID"
      if [ -n "$old_prev" ]; then roll_back "$reason" "$old_prev" "$old_cur"; else FAIL_REASON=$reason; fi
      return 1
    fi
    say "kiosk serves $INDEX_ID ($LAST_STATUS)"
    return 0
  fi

  need_kb=0
  if [ "$P_RELEASE" != yes ]; then
    need_kb=$(( INDEX_KB - P_STAGED_KB ))
    [ "$need_kb" -ge 0 ] || need_kb=0
    need_kb=$(( need_kb + need_kb / 10 + 1024 ))
    if [ -z "$P_AVAIL_KB" ]; then
      say "warning: could not read the free space under $P_ROOT (df); uploading anyway"
    elif [ "$P_AVAIL_KB" -lt "$need_kb" ]; then
      FAIL_REASON="not enough disk space on the host: need about $(( need_kb / 1024 )) MB, $(( P_AVAIL_KB / 1024 )) MB free under $P_ROOT"
      return 1
    fi
  fi

  if [ "$P_RELEASE" != yes ] && [ "$P_RSYNC" = missing ] && [ -z "$RSYNC_PATH" ]; then
    FAIL_REASON="rsync is not installed on the host (apt-get install rsync), or use --rsync-path"
    return 1
  fi

  if [ "$DRY_RUN" = 1 ]; then
    if [ "$P_RELEASE" = yes ]; then
      say "would skip the upload: releases/$INDEX_ID already on the host"
    else
      say "would upload $INDEX_KB KB ($P_STAGED_KB KB already staged; $(( ${P_AVAIL_KB:-0} / 1024 )) MB free) to $HOST:$P_ROOT/releases/.incoming-$INDEX_ID"
    fi
    say "would verify with '$REMOTE_KIOSK index verify', rename to releases/$INDEX_ID"
    say "would switch current -> $new_target (previous -> ${old_cur:-none}), reload with '$RELOAD_CMD'"
    say "would wait up to ${STATUS_TIMEOUT}s for '$REMOTE_KIOSK status --json' to report $INDEX_ID, else roll back"
    out=$(rrun $(( CONNECT_TIMEOUT + 30 )) "$REMOTE_PRUNE" "$KEEP" 1 "$INDEX_ID" 2>/dev/null | tr '\n' ' ') || true
    say "would keep $KEEP releases${out:+; would delete after success: $out}"
    return 0
  fi

  # 1. upload into the staging dir (resumable), unless the release is already there
  local verify_dir="$P_ROOT/releases/$INDEX_ID"
  if [ "$P_RELEASE" != yes ]; then
    out=$(rrun $(( CONNECT_TIMEOUT + 30 )) "$REMOTE_PREPARE" "$INDEX_ID" 2>&1) || {
      FAIL_REASON="cannot create $P_ROOT/releases on the host: $(tail -n 1 <<<"$out")"
      return 1
    }
    say "uploading $INDEX_KB KB to releases/.incoming-$INDEX_ID${P_STAGED_KB:+ ($P_STAGED_KB KB already there)}"
    upload || return 1
    verify_dir="$P_ROOT/releases/.incoming-$INDEX_ID"
  else
    say "releases/$INDEX_ID already on the host; not uploading"
  fi

  # 2. verify on the kiosk
  rc=0
  out=$(rrun $(( CONNECT_TIMEOUT + COMMAND_TIMEOUT + 30 )) "$REMOTE_VERIFY" "$verify_dir" "$COMMAND_TIMEOUT" 2>&1) || rc=$?
  if [ "$rc" != 0 ]; then
    if [ "$rc" = 255 ]; then
      FAIL_REASON="verification not run: $(ssh_error "$out" "$rc")"
    else
      FAIL_REASON="verification failed on the host: $(grep -v '^Warning: Permanently' <<<"$out" | tail -n 3 | tr '\n' ' ')"
      # a corrupt upload is dropped so the next run uploads afresh; current was never touched
      rrun $(( CONNECT_TIMEOUT + 60 )) "$REMOTE_DROP_STAGING" "$INDEX_ID" >/dev/null 2>&1 || true
      if [ "$verify_dir" = "$P_ROOT/releases/$INDEX_ID" ] && [ "$old_prev" != "releases/$INDEX_ID" ]; then
        rrun 60 'set -u; rm -rf -- "$1/releases/$3"' "$INDEX_ID" >/dev/null 2>&1 || true
      fi
    fi
    return 1
  fi
  say "verified on the host"
  out=$(rrun $(( CONNECT_TIMEOUT + 30 )) "$REMOTE_PROMOTE" "$INDEX_ID" 2>&1) || {
    FAIL_REASON="cannot move the upload into releases/$INDEX_ID: $(tail -n 1 <<<"$out")"
    return 1
  }

  # 3. switch atomically: previous -> old current, then current -> new
  local prev_target=$old_cur
  [ -n "$prev_target" ] || prev_target=$old_prev
  if ! switch_links "$new_target" "$prev_target" keep-previous; then
    local reason=$FAIL_REASON
    if [ -n "$old_cur" ]; then roll_back "$reason" "$old_cur" "$old_prev"; fi
    return 1
  fi
  say "switched current -> $new_target"
  test_pause reload

  # 4. reload and health check; any failure rolls back
  if ! reload_kiosk; then
    roll_back "$FAIL_REASON" "$old_cur" "$old_prev"
    return 1
  fi
  if ! wait_for_index "$INDEX_ID"; then
    roll_back "health check: after ${STATUS_TIMEOUT}s the kiosk reports $LAST_STATUS, not $INDEX_ID" "$old_cur" "$old_prev"
    return 1
  fi
  say "kiosk serves $INDEX_ID ($LAST_STATUS)"

  # 5. prune old releases (only now, after a successful switch)
  out=$(rrun $(( CONNECT_TIMEOUT + 120 )) "$REMOTE_PRUNE" "$KEEP" 0 "$INDEX_ID" 2>/dev/null | tr '\n' ' ') || true
  [ -z "$out" ] || say "deleted old releases: $out"
  return 0
}

rollback_host() {
  if ! probe_host ""; then return 1; fi
  local cur=$P_CURRENT prev=$P_PREVIOUS prev_id
  say "index root $P_ROOT; current -> ${cur:-none}; previous -> ${prev:-none}"
  if [ -z "$prev" ]; then
    FAIL_REASON="no previous release to roll back to"
    return 1
  fi
  prev_id=$(basename "$prev")
  if [ "$DRY_RUN" = 1 ]; then
    say "would switch current -> $prev (previous -> $cur), reload with '$RELOAD_CMD', wait for $prev_id"
    return 0
  fi
  if ! rrun 60 'case $3 in /*) [ -d "$3" ] ;; *) [ -d "$1/$3" ] ;; esac' "$prev" >/dev/null 2>&1; then
    FAIL_REASON="previous release $prev is missing on the host"
    return 1
  fi
  if ! switch_links "$prev" "$cur" keep-previous; then return 1; fi
  say "switched current -> $prev"
  if ! reload_kiosk; then
    roll_back "$FAIL_REASON" "$cur" "$prev"
    return 1
  fi
  if ! wait_for_index "$prev_id"; then
    roll_back "health check: after ${STATUS_TIMEOUT}s the kiosk reports $LAST_STATUS, not $prev_id" "$cur" "$prev"
    return 1
  fi
  say "rolled back: kiosk serves $prev_id"
}

# run_host N SPEC: one host, in a subshell; writes WORK/result.N as "spec<TAB>result<TAB>seconds<TAB>detail"
run_host() {
  local n=$1 spec=$2 start result detail
  start=$(date +%s)
  LOG_PREFIX="[$spec]"
  host_setup "$spec"
  FAIL_REASON=""
  if ! connect_host "$n"; then
    result=FAILED; detail=$FAIL_REASON
  elif [ "$MODE" = rollback ]; then
    if rollback_host; then result=ok; detail="current -> $P_PREVIOUS"; else result=FAILED; detail=$FAIL_REASON; fi
  else
    if deploy_host; then result=ok; detail="current -> releases/$INDEX_ID"; else result=FAILED; detail=$FAIL_REASON; fi
  fi
  disconnect_host
  [ "$DRY_RUN" = 0 ] || [ "$result" != ok ] || { result=dry-run; detail="nothing changed"; }
  [ "$result" = ok ] || [ "$result" = dry-run ] || say "FAILED: $detail"
  printf '%s\t%s\t%s\t%s\n' "$spec" "$result" "$(( $(date +%s) - start ))" "$detail" >"$WORK/result.$n"
}

summary() {
  local n spec result secs detail failed=0 w=4
  for spec in "${HOSTS[@]}"; do [ "${#spec}" -le "$w" ] || w=${#spec}; done
  echo
  printf '%-*s  %-8s %6s  %s\n' "$w" HOST RESULT TIME DETAIL
  for n in "${!HOSTS[@]}"; do
    if [ -f "$WORK/result.$n" ]; then
      IFS=$'\t' read -r spec result secs detail <"$WORK/result.$n"
    else
      spec=${HOSTS[$n]} result=FAILED secs=- detail="deploy process died"
    fi
    [ "$result" != FAILED ] || failed=$((failed + 1))
    printf '%-*s  %-8s %5ss  %s\n' "$w" "$spec" "$result" "$secs" "$detail"
  done
  echo
  if [ "$failed" -gt 0 ]; then
    echo "$PROG: $failed of ${#HOSTS[@]} host(s) failed"
    return 1
  fi
  echo "$PROG: all ${#HOSTS[@]} host(s) ok"
}

main() {
  parse_args "$@"
  command -v ssh >/dev/null 2>&1 || die 2 "ssh is not installed"
  if [ "$MODE" = deploy ]; then
    command -v rsync >/dev/null 2>&1 || die 2 "rsync is not installed"
    check_local_index
    echo "$PROG: index $INDEX_ID ($INDEX_KB KB) from $INDEX_DIR to ${#HOSTS[@]} host(s)$([ "$DRY_RUN" = 0 ] || echo ' (dry run)')"
  else
    echo "$PROG: rollback on ${#HOSTS[@]} host(s)$([ "$DRY_RUN" = 0 ] || echo ' (dry run)')"
  fi
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/deploy.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  local n
  for n in "${!HOSTS[@]}"; do
    while [ "$(jobs -pr | wc -l)" -ge "$PARALLEL" ]; do sleep 0.1; done
    run_host "$n" "${HOSTS[$n]}" &
  done
  wait
  summary
}

WORK=""
if [ -n "${DEPLOY_TRACE:-}" ]; then  # debugging: a timestamped trace on stderr
  PS4='+ $(date +%T.%N | cut -c1-12) '
  set -x
fi
main "$@"
