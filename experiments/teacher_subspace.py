r"""Where in a teacher's embedding a task's signal lives, and whether the student carries it.

2026-12-02-release-draws-pubchem's question (docs/EXPERIMENTS.md): the student recovers 76% of
MiniMol's variance on photoswitch's molecules (experiments/teacher_recovery.py, its highest share
of any held-out task), yet scores 0.22-0.42 R2 on photoswitch's scaffold split against MiniMol's
0.67, and 24x more azo compounds in the corpus did not move it. If the photoswitch signal sits in
directions of MiniMol's embedding that carry little of its variance, a student that fits
the teacher's variance well still misses it. Per representation, the ridge probe's R2 on
the task (z-scored features, RidgeCV, five-fold cross-validation over --seeds shuffles, on
random and on scaffold folds):

  teacher                   the teacher's embedding
  teacher top-k PCs         its first k principal components (fitted on the task's molecules)
  student                   the student's embedding
  student -> teacher        the part of the teacher a ridge map of the student predicts
                            (out of fold: every molecule's prediction comes from a map
                            fitted without it)
  teacher residual          the teacher minus that prediction: what the student misses

Embeddings come from the evaluation cache (the reports computed them; nothing new is run).

    .venv/bin/python experiments/teacher_subspace.py featurizers/molmtd-base --teacher minimol \
        --task photoswitch
"""

from __future__ import annotations

import argparse

import numpy as np


def _ridge_r2(x: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Pooled out-of-fold R2 of a z-scored RidgeCV (the held-out reports' ridge probe)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pred = np.empty_like(y)
    for train, test in folds:
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 5, 17)))
        pred[test] = model.fit(x[train], y[train]).predict(x[test])
    return float(r2_score(y, pred))


def _out_of_fold_map(student: np.ndarray, teacher: np.ndarray, seed: int) -> np.ndarray:
    """The teacher as a ridge map of the student predicts it, every row out of fold."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = np.empty_like(teacher)
    for train, test in KFold(5, shuffle=True, random_state=seed).split(student):
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 5, 15)))
        out[test] = model.fit(student[train], teacher[train]).predict(student[test])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("student", help="a featurizer folder or released name")
    parser.add_argument("--teacher", default="minimol")
    parser.add_argument("--task", default="photoswitch", help="a regression task")
    parser.add_argument("--max-molecules", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pcs", default="8,32,128", help="comma-separated k for the top-k PCs")
    args = parser.parse_args()

    import pandas as pd
    from sklearn.decomposition import PCA

    from molmtd.artifact import load_artifact
    from molmtd.downstream.evaluate import _embed, _prepare_dataset
    from molmtd.downstream.splits import kfold_splits
    from molmtd.paths import resolve_cache_dir
    from molmtd.teachers.base import get_teacher
    from molmtd.teachers.distilled import DistilledTeacher

    cache = resolve_cache_dir(None)
    artifact = load_artifact(args.student)
    keys, y, task_type, _ = _prepare_dataset(args.task, args.max_molecules)
    if task_type != "regression":
        raise SystemExit(f"{args.task} is a {task_type} task; this probe reads R2 (regression)")
    s, s_ok = _embed(DistilledTeacher(featurizer=str(artifact.directory), readout="embedding"),
                     keys, cache)
    t, t_ok = _embed(get_teacher(args.teacher), keys, cache)
    ok = s_ok & t_ok & np.isfinite(y)
    s, t, y = s[ok].astype(np.float64), t[ok].astype(np.float64), y[ok].astype(np.float64)
    keys = [k for k, good in zip(keys, ok, strict=True) if good]
    rows = []
    for seed in range(args.seeds):
        mapped = _out_of_fold_map(s, t, seed)
        reps = {"teacher": t, "student": s, "student -> teacher": mapped,
                "teacher residual": t - mapped}
        for k in (int(v) for v in args.pcs.split(",")):
            reps[f"teacher top-{k} PCs"] = PCA(k, random_state=0).fit_transform(t)
        for split in ("random", "scaffold"):
            folds = kfold_splits(split, keys, n_splits=5, seed=seed)
            for name, x in reps.items():
                rows.append({"representation": name, "split": split, "seed": seed,
                             "r2": _ridge_r2(x, y, folds)})
    table = (pd.DataFrame(rows).groupby(["representation", "split"])["r2"].mean()
             .unstack().reindex(columns=["random", "scaffold"]))
    print(f"{args.task}: {len(y)} molecules, student {artifact.name}, teacher {args.teacher}; "
          f"ridge R2, five-fold, mean over {args.seeds} shuffles")
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
