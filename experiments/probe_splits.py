"""The splits the hypothesis scripts (size_probe.py, knn_scaling.py) score on.

A student and a teacher are embedded (from the evaluation cache) on a subset of the report
tasks, and every (task, split, seed) yields the training and test rows where each is
embedded, so a script only says what it fits on them.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: the tasks and molecule caps (None: whole) of the reports these scripts compare with
TASKS = {"boiling-point": None, "melting-point": None, "refractive-index": None,
         "photoswitch": 2000, "clintox": 2000, "atc-antineoplastic": 2000, "cep-homo": 2000,
         "organic-density": 2000}
PRIMARY = {"classification": "auroc", "regression": "r2"}


@dataclass
class Split:
    """One featurizer's rows of one (task, split, seed)."""

    task: str
    task_type: str
    split: str
    seed: int
    featurizer: str
    keys: list[str]  # the task's standardised SMILES (all rows)
    x: np.ndarray  # the featurizer's embedding of every row
    y: np.ndarray
    train: np.ndarray  # row indices, embedded rows only
    test: np.ndarray

    def score(self, predictions: np.ndarray) -> float:
        """The task's primary metric of predictions for ``test``."""
        from molmtd.downstream.metrics import score_predictions

        return score_predictions(self.task_type, self.y[self.test],
                                 predictions)[PRIMARY[self.task_type]]


def parse_args(doc: str, models: tuple[str, ...] = ()) -> argparse.Namespace:
    """The scripts' arguments: a student, the teacher to compare with, evaluation seeds.

    ``models``: the probes a script can fit (``--model``, the first is the default).
    """
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("student")
    parser.add_argument("--teacher", default="minimol")
    parser.add_argument("--seeds", type=int, default=3)
    if models:
        parser.add_argument("--model", choices=models, default=models[0],
                            help="the evaluation's probe (molmtd.downstream.models)")
    return parser.parse_args()


def iterate_splits(student: str, teacher: str, seeds: int) -> Iterator[Split]:
    """Every (task, split, seed, featurizer) of :data:`TASKS`.

    The featurizers are the student's embedding readout and the teacher.
    """
    from molmtd.artifact import load_artifact
    from molmtd.downstream.evaluate import _embed, _prepare_dataset
    from molmtd.downstream.splits import make_split
    from molmtd.paths import resolve_cache_dir
    from molmtd.teachers.base import get_teacher
    from molmtd.teachers.distilled import DistilledTeacher

    cache = resolve_cache_dir(None)
    artifact = load_artifact(student)
    sources = {"student": DistilledTeacher(featurizer=str(artifact.directory),
                                           readout="embedding"),
               teacher: get_teacher(teacher)}
    for task, cap in TASKS.items():
        keys, y, task_type, _ = _prepare_dataset(task, cap)
        embs = {name: _embed(src, keys, cache)[0] for name, src in sources.items()}
        for split in ("random", "scaffold"):
            for seed in range(seeds):
                train, test = make_split(split, keys, seed=seed,
                                         stratify=y if task_type == "classification" else None)
                for name, x in embs.items():
                    ok = np.isfinite(x).all(1)
                    yield Split(task, task_type, split, seed, name, keys, x, y,
                                train[ok[train]], test[ok[test]])
        print(task, "done", flush=True)
