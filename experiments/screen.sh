#!/usr/bin/env bash
# Screening of the anti-collapse and receptive-field levers (issue 9, items 3 and 4) at
# N MOSES molecules (SCREEN_N, default 20000: the first rows of the 250k zinc corpus, so
# the caches are the zinc recipe's), GINE 5x300, 5 epochs, the five fast offline teachers. Each variant
# changes one thing against "base"; "untrained" (one optimisation step) is the floor that
# distillation must beat. They train one after the other (most informative first), and
# the evaluation scores whichever have finished. Resumable: run it again after
# an interruption (finished variants are skipped, an unfinished one resumes).
#   experiments/screen.sh              # train every variant, then evaluate
#   SCREEN_N=10000 experiments/screen.sh   # the same at 10k molecules
#   experiments/screen.sh --eval-only  # evaluate the finished variants now
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
N="${SCREEN_N:-20000}"
OUT="$CACHE/runs/screen$((N / 1000))k"
TEACHERS="ecfp-count:radius=2,size=2048,chemprop:checkpoint=admet_regression/0,minimol,chemnet,physchem"
COMMON=(--set "corpus.use_molecules=$N"
        --set "teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]"
        --set training.max_epochs=5 --set training.early_stopping_patience=null
        --set training.checkpoint_every_n_steps=100)
VARIANTS=(
  "untrained:training.max_steps=1"
  "base:"
  "vicreg:objective.variance_weight=1.0;objective.covariance_weight=0.04"
  "jkcat:student.jk=cat;student.out_dim=512"
  "linhead:objective.head_num_layers=1"
  "lnorm:student.output_norm=layer"
  "vnrw:student.virtual_node=true;student.positional_encoding=16"
  "l2:objective.name=l2"
  "cosine:objective.name=cosine"
  "floor:objective.min_log_scale=-1.0"
  "m4:objective.n_modes=4"
)
if [ "${1:-}" != "--eval-only" ]; then
  for v in "${VARIANTS[@]}"; do
    .venv/bin/python experiments/ablate.py recipes/zinc.yaml "${COMMON[@]}" --variant "$v" \
      --train-only --out "$OUT"
  done
fi
FINISHED=()
for v in "${VARIANTS[@]}"; do
  [ -f "$OUT/${v%%:*}/featurizer/config.json" ] && FINISHED+=(--variant "$v")
done
.venv/bin/python experiments/ablate.py recipes/zinc.yaml "${COMMON[@]}" "${FINISHED[@]}" \
  --against "$TEACHERS,ecfp" --readout embedding,layers --out "$OUT"
