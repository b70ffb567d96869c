#!/usr/bin/env bash
# 2026-12-02-heldout-base-max-int8: are mean+sum+max students better than the release over more than one draw?
# From an empty cache (the cache was wiped at the start of 2026-12-02-max-pooling and 2026-12-02-heldout-base-max-int8), in the order
# that gives a usable answer soonest, each step resumable (run again after an interruption):
#   1. the 50k caches and the seed-1 max student (experiments/readout_pipeline.sh)
#   2. the held-out evaluation of the teachers, ECFP, the release and that student
#   3. the release at precision="int8" beside step 2's (ADD=1; its dev-probe score was above
#      fp32's, docs/EXPERIMENTS.md 2026-12-02-heldout-base-max-int8)
#   4. the seed-2 max student, then its held-out evaluation beside step 2's (ADD=1)
# Everything runs in sequence: on 2 cores a training run beside an evaluation runs ~5x slower.
#   (setsid nohup experiments/max_draws.sh >> ~/.cache/molmtd/logs/max_draws.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
P="$CACHE/runs/pca"; H="${OUT:-$CACHE/runs/2026-12-02-heldout-base-max-int8}"
mkdir -p "$CACHE/logs"
echo $$ > "$CACHE/logs/max_draws.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true
# an earlier chain's pipeline still training: wait for it rather than train beside it
while pgrep -f readout_pipeline.sh > /dev/null; do sleep 30; done
READOUT_VARIANTS=meansummax-seed1 experiments/readout_pipeline.sh
OUT="$H/base" experiments/heldout_eval.sh featurizers/molmtd-base \
  "$P/noproj-meansummax-e12-seed1-pca512@embedding"
ADD=1 ADD_TEACHERS="molmtd:featurizer=featurizers/molmtd-base,precision=int8" \
  OUT="$H/add-base-int8" experiments/heldout_eval.sh
READOUT_VARIANTS=meansummax-seed2 experiments/readout_pipeline.sh
ADD=1 OUT="$H/add-meansummax-seed2" experiments/heldout_eval.sh \
  "$P/noproj-meansummax-e12-seed2-pca512@embedding"
echo "== $(date -Is) max draws done"
