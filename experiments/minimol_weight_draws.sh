#!/usr/bin/env bash
# 2026-12-03-minimol-weight-bf16: MiniMol, the strongest teacher and the one the student learns least, weighted 3x in
# the loss (objective.teacher_weights={minimol: 3}; 2026-12-01-layer-heads-pca512 tried it before the mean+sum
# readout) at the release's configuration, three draws (training seeds 0, 1, 2), each scored
# beside 2026-12-02-heldout-base-max-int8's held-out reports (ADD=1; BASE: experiments/results/2026-12-02-heldout-base-max-int8/base).
# In sequence (on 2 cores a training run beside an evaluation runs ~5x slower), each step
# resumable (run again after an interruption):
#   1. the student (experiments/readout_pipeline.sh: 12 epochs, ~25 min) and its PCA 512
#   2. its ridge, ridge-large, mlp-knn and mlp-large reports (~5 min)
#   (setsid nohup experiments/minimol_weight_draws.sh >> ~/.cache/molmtd/logs/minimol_weight_draws.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
P="$CACHE/runs/pca"; H="${OUT:-$CACHE/runs/2026-12-03-minimol-weight-bf16}"
mkdir -p "$CACHE/logs"
echo $$ > "$CACHE/logs/minimol_weight_draws.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true
for n in ${SEEDS:-0 1 2}; do
  seed=""; [ "$n" = 0 ] || seed="-seed$n"
  READOUT_VARIANTS="meansum-mm3$seed" experiments/readout_pipeline.sh
  ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$H/add-meansum-mm3$seed" \
    experiments/heldout_eval.sh "$P/noproj-meansum-mm3-e12$seed-pca512@embedding"
done
echo "== $(date -Is) MiniMol-weighted draws done"
