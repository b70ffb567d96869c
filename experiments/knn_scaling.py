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

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from probe_splits import iterate_splits, parse_args  # noqa: E402


def global_scale(train: np.ndarray) -> float:
    """One factor for every column: the root mean column variance of the training rows."""
    return float(np.sqrt(train.var(axis=0).mean())) or 1.0


def main() -> None:
    args = parse_args(__doc__)

    import pandas as pd

    from molmtd.downstream.models import make_model, predict_scores
    from molmtd.downstream.probe import KNNProbeClassifier, KNNProbeRegressor

    rows = []
    for s in iterate_splits(args.student, args.teacher, args.seeds):
        x, tr, te = s.x, s.train, s.test
        probe = KNNProbeClassifier if s.task_type == "classification" else KNNProbeRegressor
        zscored = make_model("knn", s.task_type, s.seed).fit(x[tr], s.y[tr])
        centre, factor = x[tr].mean(axis=0), global_scale(x[tr])
        whole = probe(random_state=s.seed).fit((x[tr] - centre) / factor, s.y[tr])
        for label, model, xt in ((f"{s.featurizer} z-scored", zscored, x[te]),
                                 (f"{s.featurizer} one scale", whole, (x[te] - centre) / factor)):
            rows.append(dict(task=s.task, split=s.split, seed=s.seed, featurizer=label,
                             value=s.score(predict_scores(model, xt, s.task_type))))
    table = (pd.DataFrame(rows).groupby(["task", "split", "featurizer"])["value"].mean()
             .unstack())
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
