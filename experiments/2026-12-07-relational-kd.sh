#!/usr/bin/env bash
# 2026-12-07-relational-kd: does matching the student's within-batch geometry to its teachers'
# move kNN and the scaffold splits? (issue "molmtd-base v2", lever 1; molmtd.objectives.relational)
#   1. calibrate (CALIBRATE=1, the default): the release's configuration on rows [0, 10k),
#      4 epochs, bf16, a relational distance term on MiniMol at weights 0 / 5 / 25 / 100;
#      prints the validation NLL of every teacher, MiniMol's relational loss and the effective
#      rank per weight (~2-4 min each on an idle 2-core machine);
#   2. DRAWS="rkdmm rkdmm-seed1 rkdmm-seed2 rkdall": the release's configuration at 50k rows,
#      12 epochs, bf16 (experiments/scale.sh variants), PCA 512 like the release, scored beside
#      the tracked held-out reports (ADD=1) into $CACHE/runs/2026-12-07-relational-kd/.
# Needs the 50k caches (experiments/build_zinc_caches.sh --50k). Resumable: run it again.
#   (setsid nohup experiments/2026-12-07-relational-kd.sh >> ~/.cache/molmtd/logs/relational-kd.log 2>&1 &)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
R="$CACHE/runs/2026-12-07-relational-kd"; P="$CACHE/runs/pca"
mkdir -p "$CACHE/logs" "$R" "$P"
echo $$ > "$CACHE/logs/relational-kd.pgid"
echo 15 > "/proc/$$/autogroup" 2>/dev/null || true   # yield to foreground work (see build_zinc_caches.sh)
while pgrep -f build_zinc_caches.sh > /dev/null; do sleep 30; done
FAST="teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]"
if [ "${CALIBRATE:-1}" = 1 ]; then
  for w in ${WEIGHTS:-0 5 25 100}; do
    out="$R/calibrate-10k-w$w"
    [ -f "$out/featurizer/config.json" ] && continue
    resume=(); [ -d "$out/checkpoints" ] && resume=(--resume)
    echo "== $(date -Is) calibrate weight $w"
    nice -n 10 .venv/bin/python -m molmtd.cli distill recipes/zinc.yaml --out "$out" "${resume[@]}" \
      --set corpus.use_molecules=10000 --set "$FAST" --set student.jk=cat \
      --set student.projection=false --set student.pooling=mean+sum --set compression.dim=null \
      --set training.max_epochs=4 --set training.early_stopping_patience=null \
      --set trainer.precision=bf16-mixed --set "objective.relational_weight=$w" \
      --set "objective.relational_teachers=[minimol]"
  done
  .venv/bin/python - "$R" <<'PY'
import csv, sys
from pathlib import Path
for run in sorted(Path(sys.argv[1]).glob("calibrate-10k-w*"), key=lambda p: int(p.name.rsplit("w", 1)[1])):
    rows = [r for r in csv.DictReader(open(run / "logs" / "metrics.csv")) if r.get("val/loss")]
    if not rows:
        continue
    last = rows[-1]
    nll = {k.split("/")[-1]: float(v) for k, v in last.items() if k.startswith("val/loss/") and v}
    print(run.name, "epoch", last.get("epoch"), "val NLL", {k: round(v, 4) for k, v in nll.items()},
          "relational(minimol)", last.get("val/relational/minimol"),
          "effective rank", last.get("val/effective_rank"))
PY
fi
for d in ${DRAWS:-}; do
  base=${d%%-seed*}; seed=${d#"$base"}
  name=gauss-jkcat-noproj-meansum-$base-bf16-e12$seed
  echo "== $(date -Is) train $name"
  SCALE_N=50000 SCALE_VARIANTS=$name nice -n 10 experiments/scale.sh --train-only
  pca="$P/noproj-meansum-$base-bf16-e12$seed-pca512"
  [ -f "$pca/featurizer/config.json" ] || \
    nice -n 10 .venv/bin/python experiments/compress.py "$CACHE/runs/scale50k/$name" "$pca" --dim 512
  ADD=1 REPORTS="ridge mlp-knn ridge-large mlp-large" OUT="$R/add-$base$seed" \
    nice -n 10 experiments/heldout_eval.sh "$pca@embedding"
done
echo "== $(date -Is) relational-kd done"
