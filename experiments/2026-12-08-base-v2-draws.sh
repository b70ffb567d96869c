#!/usr/bin/env bash
# 2026-12-08-base-v2-draws: issue "molmtd-base v2"'s levers at the release's configuration
# (50k rows, 12 epochs, bf16, PCA 512), three training draws each, in two chains that run
# side by side, so that scoring one draw (mostly one-threaded probe fits) overlaps training
# the next:
#   MODE=train  trains each draw in DRAWS (experiments/scale.sh variants), then compresses it;
#               several training chains may run side by side (CHAIN=a, CHAIN=b) on disjoint DRAWS
#   MODE=score  scores every draw in DRAWS whose compressed featurizer exists, beside the tracked
#               held-out reports (heldout_eval.sh ADD=1) into $CACHE/runs/2026-12-08-base-v2-draws/add-<draw>,
#               and waits for the others while a training chain is alive
# A draw is <lever>[-seed1|-seed2]; levers: rkdmm rkdall (lever 1, relational term), eosce bio
# (lever 3, bioactivity teachers), l7 w512 (lever 4, capacity). Resumable: run both again.
#   D="rkdmm rkdmm-seed1 rkdmm-seed2 eosce"
#   (CHAIN=a DRAWS="rkdmm rkdmm-seed1" MODE=train setsid nohup experiments/2026-12-08-base-v2-draws.sh >> ~/.cache/molmtd/logs/base-v2-train-a.log 2>&1 &)
#   (CHAIN=b DRAWS="eosce l7" MODE=train setsid nohup experiments/2026-12-08-base-v2-draws.sh >> ~/.cache/molmtd/logs/base-v2-train-b.log 2>&1 &)
#   (DRAWS="rkdmm eosce rkdmm-seed1 l7" MODE=score setsid nohup experiments/2026-12-08-base-v2-draws.sh >> ~/.cache/molmtd/logs/base-v2-score.log 2>&1 &)
# Each chain runs torch and BLAS on one thread (OMP_NUM_THREADS=1 unless set): with the scoring
# chain busy on one core, a two-thread training ran at 0.33 steps/s, one-thread at 1.67
# (two threads alone: 2.0), its threads waiting on each other across a busy core.
# The training wall time of each draw goes to $R/train-times.tsv (it includes building a new
# teacher's cache; the machine's load at the end is beside it, since the chains share 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
R="$CACHE/runs/2026-12-08-base-v2-draws"; P="$CACHE/runs/pca"
MODE="${MODE:?set MODE=train or MODE=score}"
mkdir -p "$CACHE/logs" "$R" "$P"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
echo $$ > "$CACHE/logs/base-v2-$MODE${CHAIN:+-$CHAIN}.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true   # yield to foreground work
run_name() { local base=${1%%-seed*}; echo "gauss-jkcat-noproj-meansum-$base-bf16-e12${1#"$base"}"; }
pca_dir() { local base=${1%%-seed*}; echo "$P/noproj-meansum-$base-bf16-e12${1#"$base"}-pca512"; }
training_alive() {  # is any training chain still running?
  local f
  for f in "$CACHE"/logs/base-v2-train*.pgid; do
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
  done
  return 1
}
if [ "$MODE" = train ]; then
  for d in ${DRAWS:?set DRAWS}; do
    name=$(run_name "$d"); pca=$(pca_dir "$d")
    [ -f "$pca/featurizer/config.json" ] && { echo "== $d: trained"; continue; }
    echo "== $(date -Is) train $name"; t0=$SECONDS
    SCALE_N=50000 SCALE_VARIANTS=$name nice -n 10 experiments/scale.sh --train-only
    printf '%s\t%s\t%s\n' "$d" "$((SECONDS - t0))" "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$R/train-times.tsv"
    nice -n 10 .venv/bin/python experiments/compress.py "$CACHE/runs/scale50k/$name" "$pca" --dim 512
  done
else
  # score whichever draws are ready, in DRAWS order; then wait while a training chain runs
  while :; do
    left=0
    for d in ${DRAWS:?set DRAWS}; do
      [ -f "$R/add-$d/mlp-large/results.csv" ] && continue
      pca=$(pca_dir "$d")
      if [ -f "$pca/featurizer/config.json" ]; then
        ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$R/add-$d" \
          nice -n 10 experiments/heldout_eval.sh "$pca@embedding"
      else left=$((left + 1)); fi
    done
    [ "$left" = 0 ] && break
    training_alive || { echo "== $(date -Is) no training chain; $left draw(s) not trained"; exit 1; }
    sleep 60
  done
fi
echo "== $(date -Is) $MODE done"
