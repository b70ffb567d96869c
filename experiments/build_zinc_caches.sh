#!/usr/bin/env bash
# Build the zinc recipe's caches (250k MOSES molecules, every offline teacher) in the
# background, niced, in an order that makes partial progress useful:
#   1. rows [0, 50k) for every teacher but mordred -> 50k ablations can start (~16 min)
#   2. rows [0, 250k) for the same teachers          -> the release run can start (~1 h)
#   3. mordred on [0, 50k), then on [0, 250k)        -> slowest teacher (~7-15 mol/s/core)
# (On a machine whose cache was wiped, stages 1-2 plus one 250k training fit in a session.
# The 10k/20k screening sets are prefixes of the same shards: `stage 10000 "$FAST"` builds
# them if a screen needs them.)
# `--50k` builds stage 1 only (what the 50k ablations of experiments/scale.sh read).
# Every stage resumes from finished shards: run this script again after an interruption.
# Caches go to $MOLMTD_CACHE_DIR or ~/.cache/molmtd (outside the checkout); the log and the
# process-group id go to <cache>/logs/. Pause it while benchmarking:
#   kill -STOP -- -$(cat ~/.cache/molmtd/logs/zinc_caches.pgid)  ...  kill -CONT -- -$(cat ...)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
mkdir -p "$CACHE/logs"
LOG="$CACHE/logs/zinc_caches.log"
echo $$ > "$CACHE/logs/zinc_caches.pgid"
# `nice` alone does not yield to foreground work here: with the kernel's autogroup
# scheduling (sched_autogroup_enabled=1) each session (setsid) gets an equal CPU share
# whatever its processes' nice values. Lower this session's own group weight as well.
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true
FAST="teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]"
stage() {  # stage <rows or null> <teachers override>
  echo "== $(date -Is) stage rows=$1 $2" >> "$LOG"
  local t0=$SECONDS
  nice -n 10 .venv/bin/python -m molmtd.cli distill recipes/zinc.yaml --out "$CACHE/runs/zinc-prepare" \
    --prepare-only --set "corpus.use_molecules=$1" --set "$2" >> "$LOG" 2>&1
  echo "== $(date -Is) stage rows=$1 done in $((SECONDS - t0)) s" >> "$LOG"
}
stage 50000 "$FAST"
if [ "${1:-}" = "--50k" ]; then echo "== $(date -Is) 50k caches built" >> "$LOG"; exit 0; fi
stage null "$FAST"
stage 50000 "teachers=[mordred]"
stage null "teachers=[mordred]"
echo "== $(date -Is) all caches built" >> "$LOG"
