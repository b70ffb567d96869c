r"""2026-12-07-compression-k: how many teacher-predictive directions should the 512 hold?

The all-teacher compression of molmtd-base's readout (``compress_towards_teachers``) gained a
quarter of the scaffold gap to MiniMol and cost kNN and the random splits; the PCA is the
other end. This fits k teacher-predictive directions completed by the principal components
of the rest (``teacher_directions=k``) for several k, on the same 20k corpus rows in
[50k, 70k) that the student never trained on, and scores each on the development tasks
only (bace, bace-pic50, chembl-freewilson; ridge and kNN, random and scaffold splits,
three seeds), so that k is chosen without looking at the report tasks. The chosen k is
then scored once on the report tasks (experiments/heldout_eval.sh with ADD=1).

    .venv/bin/python experiments/2026-12-07-compression-k.py featurizers/molmtd-base \
        ~/.cache/molmtd/runs/2026-12-07-compression-k --k 0 64 128 256 384 512
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="a featurizer directory or released name")
    parser.add_argument("out", type=Path)
    parser.add_argument("--k", type=int, nargs="+", default=[0, 64, 128, 256, 384, 512])
    parser.add_argument("--rows", default="50000:70000")
    parser.add_argument("--molecules", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    from molmtd.downstream.datasets import dev_tasks
    from molmtd.downstream.evaluate import evaluate_featurizers
    from molmtd.paths import resolve_cache_dir

    here = Path(__file__).resolve().parent
    featurizers = []
    for k in args.k:
        folder = args.out / f"k{k}"
        if not (folder / "featurizer" / "config.json").is_file():
            subprocess.run([sys.executable, str(here / "compress_to_teachers.py"), args.source,
                            str(folder), "--rows", args.rows, "--molecules",
                            str(args.molecules), "--teacher-directions", str(k)], check=True)
        featurizers.append(folder / "featurizer")
    report = args.out / "dev-report"
    if not (report / "results.csv").is_file():
        evaluate_featurizers(featurizers, [], seeds=tuple(range(args.seeds)), model="ridge,knn",
                             datasets=dev_tasks(), out_dir=report,
                             cache_dir=resolve_cache_dir(None), include_concat=False,
                             include_ecfp=False, allow_dev_tasks=True)
    from summarize import dev_table  # experiments/summarize.py, beside this script

    print(dev_table(pd.read_csv(report / "results.csv")).to_string(float_format="%.4f"))


if __name__ == "__main__":
    main()
