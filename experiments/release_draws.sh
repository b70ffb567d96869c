#!/usr/bin/env bash
# 2026-12-02-release-draws-pubchem: the release's configuration (mean+sum) over three draws on the held-out reports
# that scored the max's three draws (2026-12-02-heldout-base-max-int8), so the readout is decided three against three.
# Each step resumable (run again after an interruption); everything in sequence (on 2 cores
# a training run beside an evaluation runs ~5x slower):
#   1. the seed-1 and seed-2 mean+sum students (experiments/readout_pipeline.sh, ~27 min each idle)
#   2. each scored beside 2026-12-02-heldout-base-max-int8's base report (ADD=1, ~8 min each): BASE must hold
#      ridge, ridge-large, mlp-knn, mlp-large (the cache's copy, or experiments/results/2026-12-02-heldout-base-max-int8/base)
#   (setsid nohup experiments/release_draws.sh >> ~/.cache/molmtd/logs/release_draws.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
P="$CACHE/runs/pca"; H="${OUT:-$CACHE/runs/2026-12-02-release-draws-pubchem}"
mkdir -p "$CACHE/logs"
echo $$ > "$CACHE/logs/release_draws.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true
while pgrep -f readout_pipeline.sh > /dev/null; do sleep 30; done
for seed in 1 2; do
  READOUT_VARIANTS=meansum-seed$seed experiments/readout_pipeline.sh
  ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$H/add-meansum-seed$seed" \
    experiments/heldout_eval.sh "$P/noproj-meansum-e12-seed$seed-pca512@embedding"
done
echo "== $(date -Is) release draws done"
