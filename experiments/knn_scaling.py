r"""Does z-scoring every column cost a PCA embedding its kNN ranks? kNN two ways.

A hypothesis test for issue 9: the evaluation's kNN probe z-scores every column. For the
released embedding (the top 512 principal components of the student's readout), that
gives the 500th component, mostly noise, the same weight in the distance as the first;
MiniMol's columns are not ordered by variance, so z-scoring changes less for it. If that
is why the students rank last under kNN on the large tasks, a kNN on the embedding scaled
as a whole (one factor for every column, fitted on the training split: the geometry the
PCA kept) should lift the student and change MiniMol little.

Per task and split (the reports' molecules, splits and seeds; the kNN probe with k by
inner CV; embeddings from the evaluation cache): the primary metric of each featurizer
with per-column z-scores (the report's probe) and with one global scale.

    .venv/bin/python experiments/knn_scaling.py featurizers/molmtd-base --teacher minimol
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from size_probe import TASKS  # noqa: E402  (the same task subset and caps)


def global_scale(train: np.ndarray) -> float:
    """One factor for every column: the root mean column variance of the training rows."""
    return float(np.sqrt(train.var(axis=0).mean())) or 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("student")
    parser.add_argument("--teacher", default="minimol")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    import pandas as pd

    from molmtd.artifact import load_artifact
    from molmtd.downstream.evaluate import _embed, _prepare_dataset
    from molmtd.downstream.metrics import score_predictions
    from molmtd.downstream.models import make_model, predict_scores
    from molmtd.downstream.probe import KNNProbeClassifier, KNNProbeRegressor
    from molmtd.downstream.splits import make_split
    from molmtd.paths import resolve_cache_dir
    from molmtd.teachers.base import get_teacher
    from molmtd.teachers.distilled import DistilledTeacher

    cache = resolve_cache_dir(None)
    artifact = load_artifact(args.student)
    sources = {"student": DistilledTeacher(featurizer=str(artifact.directory),
                                           readout="embedding"),
               args.teacher: get_teacher(args.teacher)}
    primary = {"classification": "auroc", "regression": "r2"}
    rows = []
    for task, cap in TASKS.items():
        keys, y, task_type, _ = _prepare_dataset(task, cap)
        embs = {name: _embed(src, keys, cache)[0] for name, src in sources.items()}
        probe = KNNProbeClassifier if task_type == "classification" else KNNProbeRegressor
        for split in ("random", "scaffold"):
            for seed in range(args.seeds):
                train, test = make_split(split, keys, seed=seed,
                                         stratify=y if task_type == "classification" else None)
                for name, x in embs.items():
                    ok = np.isfinite(x).all(1)
                    tr, te = train[ok[train]], test[ok[test]]
                    zscored = make_model("knn", task_type, seed).fit(x[tr], y[tr])
                    centre = x[tr].mean(axis=0)
                    factor = global_scale(x[tr])
                    whole = probe(random_state=seed).fit((x[tr] - centre) / factor, y[tr])
                    for label, model, xt in ((f"{name} z-scored", zscored, x[te]),
                                             (f"{name} one scale", whole,
                                              (x[te] - centre) / factor)):
                        value = score_predictions(task_type, y[te], predict_scores(
                            model, xt, task_type))[primary[task_type]]
                        rows.append(dict(task=task, split=split, seed=seed, featurizer=label,
                                         value=value))
        print(task, "done", flush=True)
    table = (pd.DataFrame(rows).groupby(["task", "split", "featurizer"])["value"].mean()
             .unstack())
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
