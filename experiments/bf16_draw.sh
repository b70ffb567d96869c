#!/usr/bin/env bash
# 2026-12-03-minimol-weight-bf16: the release's configuration trained with bf16 autocast (trainer.precision=bf16-mixed)
# on a CPU with native bf16 (avx512_bf16 or AMX; `make bench` there: the zinc training step 2x
# fp32's), training seed 0 like molmtd-base, so its validation metrics compare one to one with
# the card's, and its held-out reports are scored beside 2026-12-02-heldout-base-max-int8's (ADD=1). Resumable.
#   (setsid nohup experiments/bf16_draw.sh >> ~/.cache/molmtd/logs/bf16_draw.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
P="$CACHE/runs/pca"; H="${OUT:-$CACHE/runs/2026-12-03-minimol-weight-bf16}"
.venv/bin/python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() or torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported() else 1)" || \
  echo "warning: no native bf16 on this CPU: bf16 autocast will train several times slower than fp32" >&2
READOUT_VARIANTS=meansum-bf16 experiments/readout_pipeline.sh
ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$H/add-meansum-bf16" \
  experiments/heldout_eval.sh "$P/noproj-meansum-bf16-e12-pca512@embedding"
echo "== $(date -Is) bf16 draw done"
