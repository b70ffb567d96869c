#!/usr/bin/env bash
# 2026-12-03-compression-residual-teacher-count: the teacher-predictive compression (molmtd.compression.compress_towards_teachers,
# experiments/compress_to_teachers.py) against the release's PCA, on every student it must
# beat at the same budget: the release configuration's three draws (gauss; molmtd-base is
# draw 0, re-compressed from its own 3000-d readout), and the L2 and cosine students of the
# same configuration (bf16, seed 0; 2026-12-02-loss-seeds's fp32 runs were lost with a cache). Each
# compression is fitted on 20k corpus rows in [50k, 250k) with the teachers' cached
# embeddings, and scored beside 2026-12-02-heldout-base-max-int8's held-out reports (ADD=1) into
# $CACHE/runs/2026-12-03-compression-residual-teacher-count/. ~4 min per compression, ~7 min of scoring, ~13 min per bf16
# student on a CPU with avx512_bf16. Resumable.
#   (setsid nohup experiments/compression_draws.sh >> ~/.cache/molmtd/logs/compression.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
P="$CACHE/runs/pca"; R="$CACHE/runs/scale50k"; H="${OUT:-$CACHE/runs/2026-12-03-compression-residual-teacher-count}"
mkdir -p "$CACHE/logs"
echo $$ > "$CACHE/logs/compression_draws.pgid"
compress_and_score() {  # <source featurizer> <name>
  [ -f "$P/$2/featurizer/config.json" ] || \
    nice -n 10 .venv/bin/python experiments/compress_to_teachers.py "$1" "$P/$2"
  ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$H/add-$2" \
    nice -n 10 experiments/heldout_eval.sh "$P/$2@embedding"
}
for s in ${DRAWS-1 2}; do
  compress_and_score "$R/gauss-jkcat-noproj-meansum-e12-seed$s/featurizer" "noproj-meansum-e12-seed$s-rrr512"
done
for loss in ${LOSSES-l2 cosine}; do
  name=$loss-jkcat-noproj-meansum-bf16-e12
  SCALE_N=50000 SCALE_VARIANTS=$name nice -n 10 experiments/scale.sh --train-only
  compress_and_score "$R/$name/featurizer" "$loss-meansum-bf16-e12-rrr512"
done
echo "== $(date -Is) compression draws done"
