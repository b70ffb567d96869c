r"""How much of a teacher's embedding a student carries, per task, against where it loses.

A hypothesis test for issue 9: the student loses to MiniMol on some held-out tasks
(photoswitch, clintox, atc-antineoplastic, melting and boiling points on scaffold splits)
and wins on others. If it loses where it failed to learn MiniMol's view of the task's
molecules, the share of MiniMol's embedding variance that a linear map of the student's
embedding recovers on those molecules (on a held-out fifth) should be lowest where the
gap is largest.

Per task (the same molecules as the reports: --max-molecules for the small tasks, whole
for --whole ones; embeddings come from the evaluation cache, so nothing is recomputed):
recovery R2 of the teacher from the student and, with --report (one or more), the gap of
the student against the teacher on the primary metric (mean over splits and seeds), with
the Spearman correlation of gap and recovery over the tasks.

    .venv/bin/python experiments/teacher_recovery.py featurizers/molmtd-base --teacher minimol \
        --report $R/scale50k/report-s3-ridge-seeds $R/scale50k/report-s3-ridge-large
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SMALL_HELD_OUT = ("atc-antineoplastic", "atc-nervous", "bbbp", "cep-homo", "clintox",
                  "organic-density", "photoswitch")
LARGE_HELD_OUT = ("refractive-index", "melting-point", "boiling-point")


def recovery_r2(student: np.ndarray, teacher: np.ndarray, seed: int = 0) -> float:
    """Share of the teacher embedding's variance a ridge map of the student's recovers.

    1 - (summed squared error) / (summed variance) over every teacher dimension, on a
    held-out fifth: the variance-weighted R2, in the teacher's own units, so that a
    dimension nearly constant on the training part cannot dominate (per-dimension R2
    averaged is unbounded below there). Student features are z-scored with the training
    part's statistics; rows with a non-finite value on either side are dropped; alpha by
    RidgeCV's efficient leave-one-out on the training part.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split

    ok = np.isfinite(student).all(1) & np.isfinite(teacher).all(1)
    x, y = student[ok].astype(np.float64), teacher[ok].astype(np.float64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed)
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-8
    model = RidgeCV(alphas=np.logspace(-2, 5, 15)).fit((x_tr - mu) / sd, y_tr)
    pred = model.predict((x_te - mu) / sd)
    return float(r2_score(y_te, pred, multioutput="variance_weighted"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("student", help="a featurizer folder or released name")
    parser.add_argument("--teacher", default="minimol")
    parser.add_argument("--label", default=None,
                        help="the student's label in the reports (default molmtd:<name>)")
    parser.add_argument("--report", type=Path, nargs="*", default=[])
    parser.add_argument("--max-molecules", type=int, default=2000)
    args = parser.parse_args()

    import pandas as pd
    from scipy.stats import spearmanr

    from molmtd.artifact import load_artifact
    from molmtd.downstream.evaluate import _embed, _prepare_dataset
    from molmtd.paths import resolve_cache_dir
    from molmtd.teachers.base import get_teacher
    from molmtd.teachers.distilled import DistilledTeacher

    cache = resolve_cache_dir(None)
    artifact = load_artifact(args.student)
    student = DistilledTeacher(featurizer=str(artifact.directory), readout="embedding")
    teacher = get_teacher(args.teacher)
    label = args.label or f"molmtd:{artifact.name}"
    rows = []
    for name in SMALL_HELD_OUT + LARGE_HELD_OUT:
        cap = None if name in LARGE_HELD_OUT else args.max_molecules
        keys, _, _, _ = _prepare_dataset(name, cap)
        s, _ = _embed(student, keys, cache)
        t, _ = _embed(teacher, keys, cache)
        rows.append({"task": name, "molecules": len(keys), "recovery_r2": recovery_r2(s, t)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("task")
    if args.report:
        primary = {"classification": "auroc", "regression": "r2"}
        results = pd.concat(pd.read_csv(r / "results.csv") for r in args.report)
        results = results[results["metric"] == results["task_type"].map(primary)]
        for split in ("random", "scaffold"):
            part = results[results["split"] == split]
            mean = part.groupby(["dataset", "featurizer"])["value"].mean().unstack()
            table[f"gap {split}"] = (mean[label] - mean[args.teacher]).reindex(table.index)
        for column in ("gap random", "gap scaffold"):
            rho, p = spearmanr(table["recovery_r2"], table[column], nan_policy="omit")
            print(f"Spearman(recovery, {column}) = {rho:+.2f} (p {p:.2f})")
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
