#!/usr/bin/env bash
# The held-out evaluation of issue 9 from an empty cache, in one tracked script (the
# 2026-12-02-ten-heldout-tasks to 2026-12-02-loss-seeds drivers lived in the cache's logs folder and were lost with it): the ten
# held-out tasks, three evaluation seeds, random and scaffold splits, three probes, the
# five fast teachers and ECFP beside the featurizers given, in five reports under OUT:
#   ridge        the seven smaller report tasks (<= 2000 molecules each), with the concatenation
#   ridge-large  refractive index, melting and boiling points, whole (~2000 test molecules each)
#   mlp-knn      the seven smaller tasks, MLP and kNN probes
#   mlp-large, knn-large   the three large tasks
# Each report is skipped when its results.csv exists (rerun after an interruption; the
# teachers' embeddings of the task molecules are cached under <cache>/evaluate).
#   OUT=~/.cache/molmtd/runs/2026-12-02-max-pooling experiments/heldout_eval.sh featurizers/molmtd-base RUN@embedding ...
# With ADD=1 the teachers and ECFP are not scored again, only the featurizers given, on the
# same molecules and splits (--same-molecules-as): reports to join to the first set with
# `ranks_by_split.py --add` or `seed_groups.py --add`. ADD_TEACHERS (with ADD=1) scores
# teacher specs as well, e.g. a featurizer at int8:
#   ADD=1 ADD_TEACHERS="molmtd:featurizer=featurizers/molmtd-base,precision=int8" OUT=... $0
# then experiments/ranks_by_split.py and experiments/seed_groups.py read the reports:
#   ridge: $OUT/ridge $OUT/ridge-large; MLP: $OUT/mlp-knn $OUT/mlp-large; kNN: $OUT/mlp-knn $OUT/knn-large
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
OUT="${OUT:?set OUT to the report folder}"
T="ecfp-count:radius=2,size=2048,chemprop:checkpoint=admet_regression/0,minimol,chemnet,physchem,ecfp"
BIG=(--datasets refractive-index,melting-point,boiling-point --max-molecules 0 --no-concat)
report() {  # report <name> <eval_runs.py options...>
  local name=$1; shift
  if [ -f "$OUT/$name/results.csv" ]; then echo "== $name: done"; return; fi
  echo "== $(date -Is) $name"
  local t0=$SECONDS
  nice -n 10 .venv/bin/python experiments/eval_runs.py "$OUT/$name" "${FEATURIZERS[@]}" \
    --seeds 3 "${FIELD[@]}" "$@"
  echo "== $(date -Is) $name done in $((SECONDS - t0)) s"
}
FEATURIZERS=("$@")
if [ "${ADD:-0}" = 1 ]; then
  FIELD=(--teachers "${ADD_TEACHERS:-}" --no-ecfp --no-concat --same-molecules-as "$T")
else FIELD=(--teachers "$T"); fi
[ ${#FEATURIZERS[@]} -gt 0 ] || [ -n "${ADD_TEACHERS:-}" ] || \
  { echo "usage: OUT=DIR $0 FEATURIZER..." >&2; exit 2; }
# the small-task reports first: if a session ends early, both probes have seven tasks.
# REPORTS="ridge mlp-knn" scores only those (default: all five)
declare -A OPTS=([ridge]="" [mlp-knn]="--model mlp,knn" [ridge-large]="${BIG[*]}"
                 [mlp-large]="--model mlp ${BIG[*]}" [knn-large]="--model knn ${BIG[*]}")
for name in ${REPORTS:-ridge mlp-knn ridge-large mlp-large knn-large}; do
  [ -n "${OPTS[$name]+set}" ] || { echo "unknown report $name" >&2; exit 2; }
  # shellcheck disable=SC2086  # the options are words without spaces
  report "$name" ${OPTS[$name]}
done
