#!/usr/bin/env bash
# The levers that won the 10k screening (experiments/screen.sh), at a larger corpus, with
# the L2 and cosine students at the same budget (issue 9, items 2 and 6): rows [0, N) of
# the 250k zinc corpus (SCALE_N, default 50000), the five fast offline teachers, GINE 5x300,
# SCALE_EPOCHS epochs (default 6). Variants train one after the other, the candidate first;
# the evaluation scores whichever have finished. Resumable: run it again after an
# interruption (finished variants are skipped, an unfinished one resumes).
#   experiments/scale.sh                      # train, then evaluate (ridge probe, 1 seed)
#   SCALE_VARIANTS="gauss-jkcat l2-jkcat" experiments/scale.sh   # a subset, in this order
#   experiments/scale.sh --eval-only          # evaluate the finished variants now
#   experiments/scale.sh --train-only         # train, leave the evaluation to the caller
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${MOLMTD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/molmtd}"
N="${SCALE_N:-50000}"
EPOCHS="${SCALE_EPOCHS:-6}"
OUT="$CACHE/runs/scale$((N / 1000))k"
COMMON=(--set "corpus.use_molecules=$N"
        # the student these screens started from (recipes/zinc.yaml has since moved to
        # the winner: jk=cat, no projection, PCA 512): variants change it from here
        --set student.jk=last --set student.projection=true --set compression.dim=null
        --set student.pooling=mean
        --set "teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol]"
        --set "training.max_epochs=$EPOCHS" --set training.early_stopping_patience=null
        --set training.checkpoint_every_n_steps=200
        # fp32 like every variant before recipes/zinc.yaml moved to precision auto (2026-12-03-release-250k);
        # the bf16 variants set it back
        --set trainer.precision=32-true)
declare -A OVERRIDES=(
  [gauss-jkcat]="student.jk=cat;student.out_dim=512"
  [l2-jkcat]="student.jk=cat;student.out_dim=512;objective.name=l2"
  [cosine-jkcat]="student.jk=cat;student.out_dim=512;objective.name=cosine"
  [gauss-base]=""
  [gauss-jkcat-devprobe]="student.jk=cat;student.out_dim=512;training.select_by=dev_probe"
  # number of teachers (the card's ablation): one (the strongest), about half, all five
  [gauss-jkcat-t1]="student.jk=cat;student.out_dim=512;teachers=[minimol]"
  [gauss-jkcat-t3]="student.jk=cat;student.out_dim=512;teachers=['ecfp-count:radius=2,size=2048',chemnet,minimol]"
  # the heads read the whole concatenated layer readout (5 x 300 = 1500-d, no projection):
  # what users get from readout=embedding is then what the loss shaped
  [cosine-jkcat-noproj]="student.jk=cat;student.projection=false;objective.name=cosine"
  [gauss-jkcat-noproj]="student.jk=cat;student.projection=false"
  # twice the epochs (the 6-epoch runs' validation loss was still falling; the schedule
  # spans max_epochs, so this is a run of its own, not a resumed one)
  [gauss-jkcat-noproj-e12]="student.jk=cat;student.projection=false;training.max_epochs=12"
  [l2-jkcat-noproj-e12]="student.jk=cat;student.projection=false;training.max_epochs=12;objective.name=l2"
  [cosine-jkcat-noproj-e12]="student.jk=cat;student.projection=false;training.max_epochs=12;objective.name=cosine"
  # corpus size at a fixed budget (run with SCALE_N=250000): the release's 2,112 optimiser
  # steps (50k rows x 12 epochs) spread over 250k rows (each row seen ~2x instead of ~11x),
  # and the longer run that more rows allow
  [gauss-jkcat-noproj-s2112]="student.jk=cat;student.projection=false;training.max_epochs=3;training.max_steps=2112"
  [gauss-jkcat-noproj-e6]="student.jk=cat;student.projection=false;training.max_epochs=6"
  # MiniMol, the strongest teacher and the one the student learns least, pulls 3x harder
  [gauss-jkcat-noproj-mm3]="student.jk=cat;student.projection=false;objective.teacher_weights={minimol: 3}"
  # the sixth teacher, once its cache exists (experiments/build_zinc_caches.sh builds it last)
  [cosine-jkcat-mordred]="student.jk=cat;student.out_dim=512;objective.name=cosine;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,mordred]"
  [gauss-jkcat-noproj-mordred-e12]="student.jk=cat;student.projection=false;training.max_epochs=12;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,mordred]"
  [gauss-jkcat-noproj-mordred]="student.jk=cat;student.projection=false;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,mordred]"
  # the corpus widened to the sizes MOSES lacks (experiments/build_corpus_caches.sh brics: rows
  # [0, 50k) plus 15k BRICS fragments of them), at the release's 2,112 steps
  [gauss-jkcat-noproj-brics-s2112]="corpus.source=$CACHE/corpora-src/moses50k-brics15k.csv;corpus.max_molecules=null;corpus.use_molecules=null;student.jk=cat;student.projection=false;training.max_epochs=12;training.max_steps=2112"
  # the corpus widened to chemistry MOSES filtered out (experiments/build_corpus_caches.sh
  # screen: rows [0, 50k) plus NCI's and WEHI's 13,709 screening compounds), same steps
  [gauss-jkcat-noproj-screen-s2112]="corpus.source=$CACHE/corpora-src/moses50k-screen15k.csv;corpus.max_molecules=null;corpus.use_molecules=null;student.jk=cat;student.projection=false;training.max_epochs=12;training.max_steps=2112"
  # both widenings: the brics corpus plus the screening compounds (build_corpus_caches.sh both)
  [gauss-jkcat-noproj-both-s2112]="corpus.source=$CACHE/corpora-src/moses50k-brics15k-screen14k.csv;corpus.max_molecules=null;corpus.use_molecules=null;student.jk=cat;student.projection=false;training.max_epochs=12;training.max_steps=2112"
  # molmtd-base's own run (gauss-jkcat-noproj-e12) again with another training seed (the
  # student's initialisation and batch order; same corpus, split and caches): how far apart
  # two trainings of one configuration rank, the yardstick for the differences above
  [gauss-jkcat-noproj-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;training.max_epochs=12"
  [gauss-jkcat-noproj-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;training.max_epochs=12"
  [gauss-jkcat-noproj-both-s2112-seed1]="training.seed=1;corpus.source=$CACHE/corpora-src/moses50k-brics15k-screen14k.csv;corpus.max_molecules=null;corpus.use_molecules=null;student.jk=cat;student.projection=false;training.max_epochs=12;training.max_steps=2112"
  [gauss-jkcat-noproj-both-s2112-seed2]="training.seed=2;corpus.source=$CACHE/corpora-src/moses50k-brics15k-screen14k.csv;corpus.max_molecules=null;corpus.use_molecules=null;student.jk=cat;student.projection=false;training.max_epochs=12;training.max_steps=2112"
  # size-aware readouts (2026-12-02-ten-heldout-tasks's size probe: mean pooling hides molecule size): the
  # release's run with sum pooling, and with the mean and the sum side by side
  [gauss-jkcat-noproj-sum-e12]="student.jk=cat;student.projection=false;student.pooling=sum;training.max_epochs=12"
  [gauss-jkcat-noproj-meansum-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12"
  # the max beside the mean and the sum (2026-12-02-max-pooling): whether an atom environment occurs at all
  [gauss-jkcat-noproj-meansummax-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum+max;training.max_epochs=12"
  [gauss-jkcat-noproj-meansummax-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum+max;training.max_epochs=12"
  [gauss-jkcat-noproj-meansummax-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum+max;training.max_epochs=12"
  [gauss-jkcat-noproj-meansum-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12"
  [gauss-jkcat-noproj-meansum-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12"
  # twice the steps of the release (2026-12-02-meansum-release: MiniMol, which leads MLP melting and boiling
  # points, is still the teacher the student fits least; 6 -> 12 epochs helped MLP most)
  [gauss-jkcat-noproj-meansum-e24]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=24"
  # the loss comparison at the same size-aware readout (the field's L2 and cosine students
  # above pool by the mean only)
  [l2-jkcat-noproj-meansum-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;objective.name=l2"
  [cosine-jkcat-noproj-meansum-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;objective.name=cosine"
  [l2-jkcat-noproj-meansum-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;objective.name=l2"
  [cosine-jkcat-noproj-meansum-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;objective.name=cosine"
  # 2026-12-02-release-draws-pubchem: the release's readout on a corpus widened by the CAS-registered PubChem compounds
  # of the chemicals wheel (build_corpus_caches.sh pubchem: rows [0, 50k) + 45,880 of them, with
  # 1,581 azo compounds and 99 elements), at the release's 2,112 steps
  [gauss-jkcat-noproj-meansum-pubchem-s2112]="corpus.source=$CACHE/corpora-src/moses50k-pubchem.csv;corpus.max_molecules=null;corpus.use_molecules=null;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;training.max_steps=2112"
  [gauss-jkcat-noproj-meansum-pubchem-s2112-seed1]="training.seed=1;corpus.source=$CACHE/corpora-src/moses50k-pubchem.csv;corpus.max_molecules=null;corpus.use_molecules=null;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;training.max_steps=2112"
  # 2026-12-03-minimol-weight-bf16: MiniMol weighted 3x (2026-12-01-layer-heads-pca512's lever) at the release's readout, three draws
  [gauss-jkcat-noproj-meansum-mm3-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;objective.teacher_weights={minimol: 3}"
  [gauss-jkcat-noproj-meansum-mm3-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;objective.teacher_weights={minimol: 3}"
  [gauss-jkcat-noproj-meansum-mm3-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;objective.teacher_weights={minimol: 3}"
  # 2026-12-03-minimol-weight-bf16: the release's configuration with bf16 autocast (this session's CPU has avx512_bf16:
  # the zinc training step ran 2x faster than fp32), same seed as molmtd-base: does quality hold?
  [gauss-jkcat-noproj-meansum-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed"
  # 2026-12-03-release-250k: the 10k screen's receptive-field runner-up (residual connections: 9.07 against
  # 13.00, second to jk=cat) and a wider student (width 512: the best MiniMol fit there), never
  # tried at the release's configuration; bf16 (within the fp32 draws' spread, 1.5x faster)
  [gauss-jkcat-noproj-meansum-res-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;student.residual=true;training.max_epochs=12;trainer.precision=bf16-mixed"
  [gauss-jkcat-noproj-meansum-res-bf16-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;student.residual=true;training.max_epochs=12;trainer.precision=bf16-mixed"
  [gauss-jkcat-noproj-meansum-res-bf16-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;student.residual=true;training.max_epochs=12;trainer.precision=bf16-mixed"
  [gauss-jkcat-noproj-meansum-w512-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;student.hidden_dim=512;training.max_epochs=12;trainer.precision=bf16-mixed"
  # 2026-12-03-compression-residual-teacher-count: the number of teachers (one: MiniMol, the strongest; three: ECFP counts, ChemNet,
  # MiniMol; all five = the release) at the release's configuration, bf16; until now only at 10k
  [gauss-jkcat-noproj-meansum-t1-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=[minimol]"
  [gauss-jkcat-noproj-meansum-t3-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=['ecfp-count:radius=2,size=2048',chemnet,minimol]"
  # 2026-12-03-compression-residual-teacher-count: the L2 and cosine students of the release's configuration in bf16, for the
  # teacher-predictive compression (experiments/compression_draws.sh)
  [l2-jkcat-noproj-meansum-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.name=l2"
  [cosine-jkcat-noproj-meansum-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.name=cosine"
  # 2026-12-07-relational-kd: the release's configuration (bf16) with a relational term that
  # matches the student's within-batch distances to MiniMol's (RKD; weight 25, chosen at 10k by
  # experiments/2026-12-07-relational-kd.sh), then to all five teachers'
  [gauss-jkcat-noproj-meansum-rkdmm-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.relational_weight=25;objective.relational_teachers=[minimol]"
  [gauss-jkcat-noproj-meansum-rkdmm-bf16-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.relational_weight=25;objective.relational_teachers=[minimol]"
  [gauss-jkcat-noproj-meansum-rkdmm-bf16-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.relational_weight=25;objective.relational_teachers=[minimol]"
  [gauss-jkcat-noproj-meansum-rkdall-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.relational_weight=25"
  [gauss-jkcat-noproj-meansum-rkdall-bf16-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.relational_weight=25"
  [gauss-jkcat-noproj-meansum-rkdall-bf16-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;objective.relational_weight=25"
  # 2026-12-08-base-v2-draws (issue "molmtd-base v2", levers 3 and 4), three draws each at the
  # release's configuration (bf16): eosce (FS-Mol ChEMBL bioactivity) as a sixth teacher;
  # eosce and admet-ai's classification checkpoint (31 TDC ADMET/Tox21 labels; saw bbbp and
  # clintox) as sixth and seventh; 7 layers (1.4x the compute per molecule) and width 512 (2.3x)
  [gauss-jkcat-noproj-meansum-eosce-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,eosce]"
  [gauss-jkcat-noproj-meansum-bio-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,eosce,'chemprop:checkpoint=admet_classification/0']"
  [gauss-jkcat-noproj-meansum-l7-bf16-e12]="student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;student.num_layers=7"
  [gauss-jkcat-noproj-meansum-eosce-bf16-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,eosce]"
  [gauss-jkcat-noproj-meansum-bio-bf16-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,eosce,'chemprop:checkpoint=admet_classification/0']"
  [gauss-jkcat-noproj-meansum-l7-bf16-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;student.num_layers=7"
  [gauss-jkcat-noproj-meansum-w512-bf16-e12-seed1]="training.seed=1;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;student.hidden_dim=512"
  [gauss-jkcat-noproj-meansum-eosce-bf16-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,eosce]"
  [gauss-jkcat-noproj-meansum-bio-bf16-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,eosce,'chemprop:checkpoint=admet_classification/0']"
  [gauss-jkcat-noproj-meansum-l7-bf16-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;student.num_layers=7"
  [gauss-jkcat-noproj-meansum-w512-bf16-e12-seed2]="training.seed=2;student.jk=cat;student.projection=false;student.pooling=mean+sum;training.max_epochs=12;trainer.precision=bf16-mixed;student.hidden_dim=512"
  [gauss-jkcat-mordred]="student.jk=cat;student.out_dim=512;teachers=['ecfp-count:radius=2,size=2048','chemprop:checkpoint=admet_regression/0',chemnet,physchem,minimol,mordred]"
)
read -r -a NAMES <<< "${SCALE_VARIANTS:-gauss-jkcat l2-jkcat cosine-jkcat gauss-base}"
if [ "${1:-}" != "--eval-only" ]; then
  for name in "${NAMES[@]}"; do
    .venv/bin/python experiments/ablate.py recipes/zinc.yaml "${COMMON[@]}" \
      --variant "$name:${OVERRIDES[$name]}" --train-only --out "$OUT"
  done
fi
[ "${1:-}" = "--train-only" ] && exit 0
# the screening's evaluation settings (ridge probe, 1 seed, <= 2000 molecules per task),
# with the 10k screen's jkcat and untrained students for the corpus-size comparison
.venv/bin/python experiments/eval_runs.py "$OUT/report-s1-ridge" "$OUT"/*/ \
  "$CACHE/runs/screen10k/jkcat" "$CACHE/runs/screen10k/untrained"
