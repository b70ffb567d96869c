#!/usr/bin/env bash
# 2026-12-02-max-pooling's readout ablation from an empty cache, niced, resumable (run it again after an
# interruption; every step skips what is finished):
#   1. the 50k zinc caches of the five fast teachers (experiments/build_zinc_caches.sh --50k)
#   2. the release's configuration with mean+sum+max pooling, then with sum-only pooling
#      (READOUT_VARIANTS, default "meansummax sum"), 12 epochs each; 2026-12-02-heldout-base-max-int8's list:
#      READOUT_VARIANTS="sum meansummax-seed1 meansummax-seed2 meansum-seed1 meansum-seed2" (experiments/scale.sh variants; ~21 min each on an idle 2-core machine)
#   3. each compressed to PCA 512, as the release was (experiments/compress.py)
#   (setsid nohup experiments/readout_pipeline.sh > ~/.cache/molmtd/logs/readout_pipeline.log 2>&1 &)
# Score with experiments/heldout_eval.sh (ADD=1 beside a report of the release).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
R="$CACHE/runs/scale50k"; P="$CACHE/runs/pca"
mkdir -p "$CACHE/logs" "$P"
echo $$ > "$CACHE/logs/readout_pipeline.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true   # yield to foreground work (see build_zinc_caches.sh)
# a cache build already running (an earlier pipeline's) writes the same shards: wait for it
while pgrep -f build_zinc_caches.sh > /dev/null; do sleep 30; done
experiments/build_zinc_caches.sh --50k
for v in ${READOUT_VARIANTS:-meansummax sum}; do
  base=${v%%-seed*}; seed=${v#"$base"}   # meansummax-seed1 -> ...-meansummax-e12-seed1
  name=gauss-jkcat-noproj-$base-e12$seed
  echo "== $(date -Is) train $name"
  SCALE_N=50000 SCALE_VARIANTS=$name nice -n 10 experiments/scale.sh --train-only
  [ -f "$P/noproj-$base-e12$seed-pca512/featurizer/config.json" ] || \
    nice -n 10 .venv/bin/python experiments/compress.py "$R/$name" "$P/noproj-$base-e12$seed-pca512" --dim 512
  echo "== $(date -Is) $name done"
done
