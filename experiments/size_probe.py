r"""Does the student's mean pooling hide molecule size? Ridge with and without size columns.

A hypothesis test for issue 9: the student pools its atom states by their mean, so its
embedding is blind to how many atoms there are except through indirect cues, while
MiniMol and the RDKit descriptors carry size directly. If that is why the student loses
on size-extensive properties (boiling and melting points), appending two size columns
(heavy atoms and its log) to its embedding should close much of the gap, and appending
them to MiniMol's should change little.

Per task and split (seeds 0-2, the reports' molecules and splits, the evaluation's ridge
pipeline; embeddings from the evaluation cache): the primary metric of each featurizer
alone and with the size columns.

    .venv/bin/python experiments/size_probe.py featurizers/molmtd-base --teacher minimol
"""

from __future__ import annotations

import argparse

import numpy as np

TASKS = {"boiling-point": None, "melting-point": None, "refractive-index": None,
         "photoswitch": 2000, "clintox": 2000, "atc-antineoplastic": 2000, "cep-homo": 2000,
         "organic-density": 2000}


def size_columns(keys: list[str]) -> np.ndarray:
    """``[n, 2]``: heavy-atom count and its log, per standardised SMILES."""
    from rdkit import Chem

    n = np.array([Chem.MolFromSmiles(k).GetNumHeavyAtoms() for k in keys], dtype=np.float64)
    return np.c_[n, np.log(n)]


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
        size = size_columns(keys)
        embs = {name: _embed(src, keys, cache)[0] for name, src in sources.items()}
        for split in ("random", "scaffold"):
            for seed in range(args.seeds):
                train, test = make_split(split, keys, seed=seed,
                                         stratify=y if task_type == "classification" else None)
                for name, emb in embs.items():
                    for label, x in ((name, emb), (f"{name}+size", np.c_[emb, size])):
                        ok = np.isfinite(x).all(1)
                        tr, te = train[ok[train]], test[ok[test]]
                        model = make_model("ridge", task_type, seed).fit(x[tr], y[tr])
                        value = score_predictions(task_type, y[te], predict_scores(
                            model, x[te], task_type))[primary[task_type]]
                        rows.append(dict(task=task, split=split, seed=seed, featurizer=label,
                                         value=value))
        print(task, "done", flush=True)
    table = (pd.DataFrame(rows).groupby(["task", "split", "featurizer"])["value"].mean()
             .unstack())
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
