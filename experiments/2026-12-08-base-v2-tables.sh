#!/usr/bin/env bash
# Rank tables of 2026-12-08-base-v2-draws: each lever's draws as one expected draw
# (seed_groups.py), against the release configuration's three draws (molmtd-base and the
# fp32 draws 1 and 2), from the tracked reports; seconds. (The release's bf16 draw 0, the
# paired comparison for each lever's draw 0, is left out: the field would rank it too.)
#   experiments/2026-12-08-base-v2-tables.sh                # every lever with a scored draw
#   LEVERS="rkdmm l7" experiments/2026-12-08-base-v2-tables.sh
# Reads experiments/results/2026-12-08-base-v2-draws/add-<draw> (copy a draw's reports there
# from ~/.cache/molmtd/runs/2026-12-08-base-v2-draws/ once scored).
set -euo pipefail
cd "$(dirname "$0")/.."
X=experiments/results
D=$X/2026-12-08-base-v2-draws
ADDS="$X/2026-12-02-release-draws-pubchem/add-meansum-seed1 $X/2026-12-02-release-draws-pubchem/add-meansum-seed2"
GROUP_OPTS="--group release=molmtd:molmtd-base,molmtd:noproj-meansum-e12-seed1-pca512,molmtd:noproj-meansum-e12-seed2-pca512"
for lever in ${LEVERS:-rkdmm rkdall eosce bio l7 w512}; do
  members=()
  for seed in "" -seed1 -seed2; do
    [ -f "$D/add-$lever$seed/mlp-large/results.csv" ] || continue
    ADDS="$ADDS $D/add-$lever$seed"
    members+=("molmtd:noproj-meansum-$lever-bf16-e12$seed-pca512")
  done
  [ ${#members[@]} -gt 0 ] || continue
  GROUP_OPTS="$GROUP_OPTS --group $lever=$(IFS=,; echo "${members[*]}")"
  echo "$lever: ${#members[@]} draw(s)"
done
BASE=$X/2026-12-02-heldout-base-max-int8/base ADDS="$ADDS" EXCLUDE='concat(,mordred,meansummax' \
  SEED_GROUPS="$GROUP_OPTS" experiments/heldout_tables.sh
