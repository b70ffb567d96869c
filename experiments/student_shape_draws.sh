#!/usr/bin/env bash
# 2026-12-03-release-250k's prepared next step: the receptive-field levers that the 10k screen ranked next
# after jk=cat, at the release's configuration (50k rows, 12 epochs, mean+sum, PCA 512), in
# bf16: residual connections over three training draws (SEEDS, default "0 1 2"), then width
# 512 (one draw; WIDE=0 skips it). Each is compressed to PCA 512 and scored beside 2026-12-02-heldout-base-max-int8's
# held-out reports (ADD=1) into $CACHE/runs/2026-12-03-compression-residual-teacher-count/. ~13 min per residual draw and
# ~25 min for width 512 on a CPU with avx512_bf16, plus ~5 min of scoring each. Resumable.
#   (setsid nohup experiments/student_shape_draws.sh >> ~/.cache/molmtd/logs/student_shape.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
P="$CACHE/runs/pca"; H="${OUT:-$CACHE/runs/2026-12-03-compression-residual-teacher-count}"
mkdir -p "$CACHE/logs"
echo $$ > "$CACHE/logs/student_shape.pgid"
VARIANTS=""
for s in ${SEEDS:-0 1 2}; do
  if [ "$s" = 0 ]; then VARIANTS="$VARIANTS meansum-res-bf16"; else VARIANTS="$VARIANTS meansum-res-bf16-seed$s"; fi
done
[ "${WIDE:-1}" = 1 ] && VARIANTS="$VARIANTS meansum-w512-bf16"
for v in $VARIANTS; do
  READOUT_VARIANTS=$v experiments/readout_pipeline.sh
  base=${v%%-seed*}; seed=${v#"$base"}
  ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$H/add-$v" \
    nice -n 10 experiments/heldout_eval.sh "$P/noproj-$base-e12$seed-pca512@embedding"
done
echo "== $(date -Is) student shape draws done"
