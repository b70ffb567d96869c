#!/usr/bin/env bash
# 2026-12-03-compression-residual-teacher-count: issue 9's number-of-teachers ablation (one, about half, all) at the release's
# configuration (50k rows, 12 epochs, mean+sum, PCA 512, bf16, seed 0); the 10k screen was
# the only measurement until now. One teacher = MiniMol (the strongest); three = ECFP counts,
# ChemNet, MiniMol; all five = the bf16 draw of 2026-12-03-minimol-weight-bf16 (2026-12-03-minimol-weight-bf16/add-meansum-bf16).
# Each student is compressed to PCA 512 and scored beside 2026-12-02-heldout-base-max-int8's held-out reports (ADD=1)
# into $CACHE/runs/2026-12-03-compression-residual-teacher-count/. ~12 min of training and ~5 min of scoring each. Waits for
# a running student_shape_draws.sh (same two cores). Resumable.
#   (setsid nohup experiments/teacher_count_draws.sh >> ~/.cache/molmtd/logs/teacher_count.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
P="$CACHE/runs/pca"; H="${OUT:-$CACHE/runs/2026-12-03-compression-residual-teacher-count}"
mkdir -p "$CACHE/logs"
echo $$ > "$CACHE/logs/teacher_count.pgid"
while pgrep -f student_shape_draws.sh > /dev/null; do sleep 30; done
for v in ${VARIANTS:-meansum-t1-bf16 meansum-t3-bf16}; do
  READOUT_VARIANTS=$v experiments/readout_pipeline.sh
  ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$H/add-$v" \
    nice -n 10 experiments/heldout_eval.sh "$P/noproj-$v-e12-pca512@embedding"
done
echo "== $(date -Is) teacher count draws done"
