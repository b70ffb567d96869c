#!/usr/bin/env bash
# The widened corpora of issue 9 (docs/EXPERIMENTS.md, 2026-12-01-mordred-teacher and 2026-12-01-corpus-coverage) and the five fast
# teachers' caches of each, niced, in the background, resumable:
#   brics  : the zinc corpus's rows [0, 50k) + 15k BRICS fragments of them
#            (experiments/brics_corpus.py; molecule sizes MOSES lacks)
#   screen : the same 50k rows + NCI's and WEHI's screening compounds from RDKit's wheel
#            (experiments/broad_corpus.py; chemistry MOSES filtered out)
#   both   : the brics corpus + the screen corpus's screening compounds
#   pubchem: the same 50k rows + the CAS-registered PubChem compounds of the chemicals wheel
#            (broad_corpus.py --source pubchem; 2026-12-02-release-draws-pubchem). Its stores take the 50k rows'
#            shards from the zinc corpus's stores (EmbeddingStore reuse_siblings), so only
#            the new molecules are embedded.
#   (setsid nohup experiments/build_corpus_caches.sh brics > /dev/null 2>&1 &)
# then: SCALE_VARIANTS=gauss-jkcat-noproj-brics-s2112 experiments/scale.sh --train-only
# (or gauss-jkcat-noproj-screen-s2112). The zinc corpus must exist
# (experiments/build_zinc_caches.sh builds it first).
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH="${1:-brics}"
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
mkdir -p "$CACHE/logs" "$CACHE/corpora-src"
LOG="$CACHE/logs/${WHICH}_caches.log"
echo $$ > "$CACHE/logs/${WHICH}_caches.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true  # yield to foreground work (see build_zinc_caches.sh)
case "$WHICH" in
  brics) SRC="$CACHE/corpora-src/moses50k-brics15k.csv"
         MAKE=(experiments/brics_corpus.py --moses 50000 --fragments 15000) ;;
  screen) SRC="$CACHE/corpora-src/moses50k-screen15k.csv"
          MAKE=(experiments/broad_corpus.py --moses 50000) ;;
  both) SRC="$CACHE/corpora-src/moses50k-brics15k-screen14k.csv"
        [ -f "$CACHE/corpora-src/moses50k-brics15k.csv" ] || { echo "build the brics corpus first" >&2; exit 2; }
        MAKE=(experiments/broad_corpus.py --moses 0) ;;
  pubchem) SRC="$CACHE/corpora-src/moses50k-pubchem.csv"
           MAKE=(experiments/broad_corpus.py --moses 50000 --source pubchem --max-heavy-atoms 80) ;;
  *) echo "usage: $0 brics|screen|both|pubchem" >&2; exit 2 ;;
esac
if [ ! -f "$SRC" ]; then
  ZINC=$(grep -l '"max_molecules": 250000' "$CACHE"/corpora/*/corpus.json | head -1)
  BASE="$(dirname "$ZINC")/corpus.parquet"
  [ "$WHICH" = both ] && BASE="$CACHE/corpora-src/moses50k-brics15k.csv"
  echo "== $(date -Is) corpus from $BASE" >> "$LOG"
  nice -n 10 .venv/bin/python "${MAKE[0]}" "$BASE" "$SRC.part" \
    "${MAKE[@]:1}" >> "$LOG" 2>&1
  mv "$SRC.part" "$SRC"
fi
FAST="teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]"
echo "== $(date -Is) teachers" >> "$LOG"
nice -n 10 .venv/bin/python -m molmtd.cli distill recipes/zinc.yaml --out "$CACHE/runs/$WHICH-prepare" \
  --prepare-only --set "corpus.source=$SRC" --set corpus.max_molecules=null \
  --set corpus.use_molecules=null --set "$FAST" >> "$LOG" 2>&1
echo "== $(date -Is) $WHICH caches built" >> "$LOG"
