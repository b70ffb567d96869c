r"""Does the student's pooling hide molecule size? A probe with and without size columns.

A hypothesis test for issue 9: the student pools its atom states by their mean, so its
embedding is blind to how many atoms there are except through indirect cues, while
MiniMol and the RDKit descriptors carry size directly. If that is why the student loses
on size-extensive properties (boiling and melting points), appending two size columns
(heavy atoms and its log) to its embedding should close much of the gap, and appending
them to MiniMol's should change little.

Per task and split (seeds 0-2, the reports' molecules and splits, the evaluation's ridge
pipeline, or its MLP with ``--model mlp``; embeddings from the evaluation cache): the
primary metric of each featurizer alone and with the size columns.

    .venv/bin/python experiments/size_probe.py featurizers/molmtd-base --teacher minimol
    .venv/bin/python experiments/size_probe.py featurizers/molmtd-base --model mlp
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from probe_splits import iterate_splits, parse_args  # noqa: E402


def size_columns(keys: list[str]) -> np.ndarray:
    """``[n, 2]``: heavy-atom count and its log, per standardised SMILES."""
    from rdkit import Chem

    n = np.array([Chem.MolFromSmiles(k).GetNumHeavyAtoms() for k in keys], dtype=np.float64)
    return np.c_[n, np.log(n)]


def main() -> None:
    args = parse_args(__doc__, models=("ridge", "mlp"))

    import pandas as pd

    from molmtd.downstream.models import make_model, predict_scores

    rows, sizes = [], {}
    for s in iterate_splits(args.student, args.teacher, args.seeds):
        if s.task not in sizes:
            sizes = {s.task: size_columns(s.keys)}
        with_size = np.c_[s.x, sizes[s.task]]
        for label, x in ((s.featurizer, s.x), (f"{s.featurizer}+size", with_size)):
            model = make_model(args.model, s.task_type, s.seed).fit(x[s.train], s.y[s.train])
            rows.append(dict(task=s.task, split=s.split, seed=s.seed, featurizer=label,
                             value=s.score(predict_scores(model, x[s.test], s.task_type))))
    table = (pd.DataFrame(rows).groupby(["task", "split", "featurizer"])["value"].mean()
             .unstack())
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
