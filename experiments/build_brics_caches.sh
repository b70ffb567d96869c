#!/usr/bin/env bash
# The corpus of the next issue-9 experiment (docs/EXPERIMENTS.md, stop 19): the zinc
# corpus's rows [0, 50k) plus 15k BRICS fragments of them (experiments/brics_corpus.py),
# and the five fast teachers' caches of it, niced, in the background, resumable:
#   (setsid nohup experiments/build_brics_caches.sh > /dev/null 2>&1 &)
# then: SCALE_VARIANTS=gauss-jkcat-noproj-brics-s2112 experiments/scale.sh --train-only
# The zinc corpus must exist (experiments/build_zinc_caches.sh builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
mkdir -p "$CACHE/logs" "$CACHE/corpora-src"
LOG="$CACHE/logs/brics_caches.log"
echo $$ > "$CACHE/logs/brics_caches.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true  # yield to foreground work (see build_zinc_caches.sh)
SRC="$CACHE/corpora-src/moses50k-brics15k.csv"
if [ ! -f "$SRC" ]; then
  ZINC=$(grep -l '"max_molecules": 250000' "$CACHE"/corpora/*/corpus.json | head -1)
  echo "== $(date -Is) corpus from $(dirname "$ZINC")" >> "$LOG"
  nice -n 10 .venv/bin/python experiments/brics_corpus.py "$(dirname "$ZINC")/corpus.parquet" \
    "$SRC.part" --moses 50000 --fragments 15000 >> "$LOG" 2>&1
  mv "$SRC.part" "$SRC"
fi
FAST="teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]"
echo "== $(date -Is) teachers" >> "$LOG"
nice -n 10 .venv/bin/python -m molmtd.cli distill recipes/zinc.yaml --out "$CACHE/runs/brics-prepare" \
  --prepare-only --set "corpus.source=$SRC" --set corpus.max_molecules=null \
  --set corpus.use_molecules=null --set "$FAST" >> "$LOG" 2>&1
echo "== $(date -Is) brics caches built" >> "$LOG"
