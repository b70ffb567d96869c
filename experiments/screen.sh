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
#   SCREEN_VARIANTS="base lap rw" experiments/screen.sh   # a subset, in this order
#   experiments/screen.sh --eval-only  # evaluate the finished variants now
# The evaluation is experiments/eval_runs.py's: ridge probe, one seed, <= 2000 molecules
# per task, the report tasks on random and scaffold splits, beside the five teachers, ECFP
# and their concatenation (<OUT>/report-s1-ridge).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
N="${SCREEN_N:-20000}"
OUT="$CACHE/runs/screen$((N / 1000))k"
COMMON=(--set "corpus.use_molecules=$N"
        # the student these screens started from (recipes/zinc.yaml has since moved to
        # the winner: jk=cat, no projection, PCA 512): variants change it from here
        --set student.jk=last --set student.projection=true --set compression.dim=null
        --set "teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]"
        --set training.max_epochs=5 --set training.early_stopping_patience=null
        --set training.checkpoint_every_n_steps=100
        --set trainer.precision=32-true)   # as measured (zinc.yaml: auto since 2026-12-03-release-250k)
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
  # what a 5-bond receptive field cannot see (issue 9 item 4), one lever at a time
  "rw:student.positional_encoding=16"
  "vn:student.virtual_node=true"
  "lap:student.laplacian_pe=8"
  "residual:student.residual=true"
  "deep:student.num_layers=8"
  "wide:student.hidden_dim=512"
  # model selection by the development probe (item 5) and the number of teachers
  "devprobe:training.select_by=dev_probe"
  "t1:teachers=[minimol]"
  "t3:teachers=['ecfp-count:radius=2,size=2048',chemnet,minimol]"
)
if [ -n "${SCREEN_VARIANTS:-}" ]; then  # keep the named ones, in the order given
  CHOSEN=()
  for name in $SCREEN_VARIANTS; do
    for v in "${VARIANTS[@]}"; do [ "${v%%:*}" = "$name" ] && CHOSEN+=("$v"); done
  done
  VARIANTS=("${CHOSEN[@]}")
fi
if [ "${1:-}" != "--eval-only" ]; then
  for v in "${VARIANTS[@]}"; do
    .venv/bin/python experiments/ablate.py recipes/zinc.yaml "${COMMON[@]}" --variant "$v" \
      --train-only --out "$OUT"
  done
fi
.venv/bin/python experiments/eval_runs.py "$OUT/report-s1-ridge" "$OUT"/*/
