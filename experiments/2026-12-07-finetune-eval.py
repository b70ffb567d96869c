"""Issue 32's evaluation: fine-tuned molmtd-base against frozen heads, chemprop and classics.

Report tasks, random and scaffold splits (80/20, seeded), every system with its defaults
and, where it early-stops, the same inner validation split (``random_split(n_train,
max(0.1, 2 / n_train), seed)``, what MTDRegressor uses). Systems:

- ``ft-base``, ``ft-base+ecfp``: MTDRegressor/MTDClassifier from molmtd-base, without and
  with ECFP-count features; ``ft-random``: the same architecture from random weights;
- ``base-mlp``, ``base-svr``: frozen molmtd-base (its recommended readout), the MLP probe
  and an RBF SVR/SVC with C by 3-fold inner CV; ``minimol-mlp``, ``minimol-svr``: the same
  heads on frozen MiniMol;
- ``chemprop``: chemprop v2's D-MPNN from scratch at its defaults (50 epochs, best
  validation epoch);
- ``rf-ecfp``: random forest (500 trees) on ECFP counts; ``svr-tanimoto``: SVR/SVC with a
  Tanimoto kernel on 2048-bit ECFP4, C by inner CV.

One JSON line per (task, split, seed, system, n_train) in ``--out``: a rerun skips what
is done (resumable; stop it any time). ``--learning-curve 50,100,200,500`` subsamples the
training side. ``--table`` prints average ranks and mean scores per split.

The systems, the runner and the tables are the library's (``molmtd.downstream.
finetune_systems`` and ``finetune_benchmark``, what ``molmtd evaluate --finetune`` runs);
this script keeps the experiment's flags, its seed lists and its embedding cache folder.
Run niced:

    nice -n 19 python experiments/2026-12-07-finetune-eval.py \
        --out experiments/results/2026-12-07-finetune-eval/runs.jsonl \
        --tasks photoswitch,freesolv --splits scaffold,random --seeds 0
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from molmtd.downstream.finetune_benchmark import read_rows, run_benchmark, tables_markdown
from molmtd.downstream.finetune_systems import SYSTEMS, SystemRunner
from molmtd.paths import default_cache_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tasks", default="photoswitch,freesolv")
    parser.add_argument("--splits", default="scaffold,random")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--learning-curve", default="0",
                        help="training sizes, comma-separated (0 = the whole training split)")
    parser.add_argument("--max-molecules", type=int, default=None)
    parser.add_argument("--table", action="store_true",
                        help="print the tables of --out and of any --also files")
    parser.add_argument("--also", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.table:
        print(tables_markdown([row for path in [args.out, *args.also]
                               for row in read_rows(path)]), end="")
        return
    runner = SystemRunner(cache_dir=default_cache_dir() / "experiments"
                          / "2026-12-07-finetune-eval")
    run_benchmark(args.out, args.tasks.split(","), args.splits.split(","),
                  [int(s) for s in args.seeds.split(",")], args.systems.split(","),
                  [int(s) for s in args.learning_curve.split(",")], args.max_molecules,
                  runner, on_row=lambda row: print(json.dumps(row), flush=True))


if __name__ == "__main__":
    main()
