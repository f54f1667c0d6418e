#!/usr/bin/env bash
# Starts N ranks of a gtgm command on this machine (no Python / torchrun needed):
#   scripts/launch_local.sh 2 -- build/gtgm pretrain --config configs/demo/pretrain.yaml
#   scripts/launch_local.sh --log-dir runs/logs 4 -- build/gtgm bench dist
# Each rank gets RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and
# MASTER_PORT (kept from the environment, else a random free-looking port). Rank 0 prints to the
# terminal; with --log-dir every rank also writes DIR/rank<r>.log (ranks > 0 only there).
# Failures propagate: when a rank exits non-zero, the others get dist.timeout_s to report it
# themselves (they name the failed rank), then GTGM_LAUNCH_GRACE_S (default 30) more before
# SIGTERM, then SIGKILL; the launcher exits with the first non-zero code. SIGINT/SIGTERM to the
# launcher is forwarded as SIGTERM to every rank (gtgm checkpoints and exits 0). When the launcher
# itself dies without a chance to forward (SIGKILL, OOM killer), each rank gets SIGTERM from the
# kernel (setpriv --pdeathsig, util-linux), so no rank trains on as an orphan.
set -uo pipefail

usage() { echo "usage: $0 [--log-dir DIR] N -- command [args...]" >&2; exit 2; }
LOG_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --log-dir) [ $# -ge 2 ] || usage; LOG_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || usage
N="$1"; shift
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "launch_local: N must be a positive integer, got '$N'" >&2; exit 2; }
[ "$1" = "--" ] || usage
shift
command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || { echo "launch_local: cannot execute '$1'" >&2; exit 2; }

# A port that nothing listens on (checked through bash's /dev/tcp), unless MASTER_PORT is given.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${MASTER_PORT:-}" ]; then
  for _ in $(seq 50); do
    MASTER_PORT=$((20000 + RANDOM % 30000))
    port_busy "$MASTER_PORT" || break
  done
fi
export MASTER_ADDR=127.0.0.1 MASTER_PORT WORLD_SIZE="$N" LOCAL_WORLD_SIZE="$N"
[ -n "$LOG_DIR" ] && mkdir -p "$LOG_DIR"

# Ranks die with the launcher: the kernel sends SIGTERM to a rank whose parent (this shell) dies.
DIE_WITH_LAUNCHER=()
if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then
  DIE_WITH_LAUNCHER=(setpriv --pdeathsig TERM --)
else
  echo "launch_local: setpriv --pdeathsig (util-linux >= 2.33) not found: ranks outlive a killed launcher" >&2
fi
set -- "${DIE_WITH_LAUNCHER[@]}" "$@"

declare -a PIDS
for ((r = 0; r < N; r++)); do
  if [ -n "$LOG_DIR" ]; then
    if [ "$r" -eq 0 ]; then
      RANK=$r LOCAL_RANK=$r "$@" > >(tee "$LOG_DIR/rank$r.log") 2>&1 &
    else
      RANK=$r LOCAL_RANK=$r "$@" > "$LOG_DIR/rank$r.log" 2>&1 &
    fi
  elif [ "$r" -eq 0 ]; then
    RANK=$r LOCAL_RANK=$r "$@" &
  else
    RANK=$r LOCAL_RANK=$r "$@" > /dev/null &  # their errors still reach stderr
  fi
  PIDS[$r]=$!
done

forward() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; }
trap forward INT TERM

# Wait for every rank; remember the first failure.
FIRST=0
NDONE=0
declare -a DONE
for ((r = 0; r < N; r++)); do DONE[$r]=0; done
GRACE="${GTGM_LAUNCH_GRACE_S:-30}"
FAILED_AT=0
while [ "$NDONE" -lt "$N" ]; do
  for ((r = 0; r < N; r++)); do
    [ "${DONE[$r]}" -eq 1 ] && continue
    if ! kill -0 "${PIDS[$r]}" 2>/dev/null; then
      wait "${PIDS[$r]}"; rc=$?
      DONE[$r]=1; NDONE=$((NDONE + 1))
      if [ "$rc" -ne 0 ] && [ "$FIRST" -eq 0 ]; then
        FIRST=$rc; FAILED_AT=$SECONDS
        echo "launch_local: rank $r exited with code $rc" >&2
      fi
    fi
  done
  if [ "$FIRST" -ne 0 ] && [ $((SECONDS - FAILED_AT)) -gt "$GRACE" ]; then
    echo "launch_local: stopping the remaining ranks" >&2
    forward; sleep 10
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    FAILED_AT=$SECONDS
  fi
  sleep 0.2
done
exit "$FIRST"
