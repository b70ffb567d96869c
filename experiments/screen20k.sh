#!/usr/bin/env bash
# Screening of the anti-collapse and receptive-field levers (issue 9, items 3 and 4) at
# 20k MOSES molecules (the first rows of the 250k zinc corpus, so the caches are the
# zinc recipe's), GINE 5x300, 5 epochs, the five fast offline teachers. Each variant
# changes one thing against "base". Cheap enough to rank levers; the winners are confirmed
# at 50k. Resumable: run it again after an interruption (finished variants are skipped).
#   experiments/screen20k.sh            # trains into $CACHE/runs/screen20k, then evaluates
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
TEACHERS="ecfp-count:radius=2,size=2048,chemprop:checkpoint=admet_regression/0,minimol,chemnet,physchem"
.venv/bin/python experiments/ablate.py recipes/zinc.yaml \
  --set "corpus.use_molecules=20000" \
  --set "teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]" \
  --set training.max_epochs=5 --set training.early_stopping_patience=null \
  --set training.checkpoint_every_n_steps=100 \
  --variant "base:" \
  --variant "vicreg:objective.variance_weight=1.0;objective.covariance_weight=0.04" \
  --variant "jkcat:student.jk=cat;student.out_dim=512" \
  --variant "lnorm:student.output_norm=layer" \
  --variant "linhead:objective.head_num_layers=1" \
  --variant "vnrw:student.virtual_node=true;student.positional_encoding=16" \
  --variant "l2:objective.name=l2" \
  --variant "cosine:objective.name=cosine" \
  --variant "floor:objective.min_log_scale=-1.0" \
  --variant "m4:objective.n_modes=4" \
  --against "$TEACHERS,ecfp" --readout embedding,layers \
  --out "$CACHE/runs/screen20k" "$@"
