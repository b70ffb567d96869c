#!/usr/bin/env bash
# 2026-12-02-release-draws-pubchem: the release's configuration on MOSES widened by the CAS-registered PubChem
# compounds (experiments/broad_corpus.py --source pubchem), one draw, scored beside stop
# 27's held-out reports. In sequence, each step resumable (run again after an interruption):
#   1. the corpus and its five teacher caches (experiments/build_corpus_caches.sh pubchem;
#      the 50k MOSES rows' shards come from the zinc corpus's stores)
#   2. the student at the release's 2,112 steps, compressed to PCA 512
#   3. its held-out reports beside 2026-12-02-heldout-base-max-int8's (ADD=1)
#   (setsid nohup experiments/pubchem_corpus.sh >> ~/.cache/molmtd/logs/pubchem_corpus.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
R="$CACHE/runs/scale50k"; P="$CACHE/runs/pca"; H="${OUT:-$CACHE/runs/2026-12-02-release-draws-pubchem}"
mkdir -p "$CACHE/logs" "$P"
echo $$ > "$CACHE/logs/pubchem_corpus.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true
experiments/build_corpus_caches.sh pubchem
# SEEDS="0 1" trains a second draw too (training.seed=1; same corpus, split and caches)
for n in ${SEEDS:-0}; do
  seed=""; [ "$n" = 0 ] || seed="-seed$n"
  name=gauss-jkcat-noproj-meansum-pubchem-s2112$seed
  echo "== $(date -Is) caches built; train $name"
  SCALE_N=50000 SCALE_VARIANTS=$name nice -n 10 experiments/scale.sh --train-only
  [ -f "$P/noproj-meansum-pubchem-s2112$seed-pca512/featurizer/config.json" ] || \
    nice -n 10 .venv/bin/python experiments/compress.py "$R/$name" "$P/noproj-meansum-pubchem-s2112$seed-pca512" --dim 512
  ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$H/add-meansum-pubchem$seed" \
    experiments/heldout_eval.sh "$P/noproj-meansum-pubchem-s2112$seed-pca512@embedding"
done
echo "== $(date -Is) pubchem corpus done"
