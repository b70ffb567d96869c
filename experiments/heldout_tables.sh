#!/usr/bin/env bash
# Rank tables of experiments/heldout_eval.sh's reports: each candidate alone against the
# field (the teachers and ECFP, and whatever else was scored and not excluded), ten
# held-out tasks, per probe. The MLP table reads mlp-knn + mlp-large, the kNN table
# mlp-knn + knn-large (read only the columns of the probe named).
#   BASE=~/.cache/molmtd/runs/2026-12-02-max-pooling/base ADDS="$R/add-x $R/add-y" \
#     CANDS="molmtd:molmtd-base,molmtd:x@embedding" experiments/heldout_tables.sh
# With SEED_GROUPS="--group a=m1,m2 --group b=m3" it runs seed_groups.py instead (head to head too).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${BASE:?set BASE to the report folder of heldout_eval.sh}"
read -r -a ADD_DIRS <<< "${ADDS:-}"
for pair in "ridge:ridge ridge-large" "mlp:mlp-knn mlp-large" "knn:mlp-knn knn-large"; do
  probe=${pair%%:*}; read -r -a names <<< "${pair#*:}"
  reports=(); adds=()
  for n in "${names[@]}"; do
    # a report not scored (e.g. 2026-12-02-heldout-base-max-int8's knn-large) is left out, and said so
    [ -f "$BASE/$n/results.csv" ] || { echo "($BASE/$n: not scored, left out)"; continue; }
    reports+=("$BASE/$n")
    for a in "${ADD_DIRS[@]}"; do adds+=(--add "$a/$n"); done
  done
  echo "### $probe (${names[*]})"
  if [ -n "${SEED_GROUPS:-}" ]; then
    # shellcheck disable=SC2086  # SEED_GROUPS holds several --group options
    .venv/bin/python experiments/seed_groups.py "${reports[@]}" "${adds[@]}" $SEED_GROUPS \
      --exclude "${EXCLUDE:-concat(,mordred}"
  else
    .venv/bin/python experiments/ranks_by_split.py "${reports[@]}" "${adds[@]}" \
      --exclude "${EXCLUDE:-concat(,mordred}" --candidates "${CANDS:?set CANDS}"
  fi
done
