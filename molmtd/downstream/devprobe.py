"""A cheap score for model selection: a linear probe on the development tasks.

``dev_probe_score(embed)`` embeds the development tasks' molecules
(:func:`~molmtd.downstream.datasets.dev_tasks`: never part of a report) with any callable
``list[str] -> [n, d]`` array, fits a ridge probe on one fixed, seeded random split per
task, and returns each task's primary metric (R2 or AUROC) and their mean. The trainer can
call it after every epoch; scores of the report tasks are never touched.

The probe: z-scores from the training split, clipped to +-``Z_CLIP`` (as in
:mod:`molmtd.downstream.models`), then ``RidgeCV`` (alpha by efficient leave-one-out over
1e-2..1e5) on the label, 0/1 labels included: a least-squares classifier whose
predictions rank molecules for AUROC. It costs one SVD per task, where the report's
logistic regression with a cross-validated C costs 15 fits (measured: 24 s against 0.5 s
for bace on 1500-d features under load).

Cost: the dev datasets are loaded, standardised, deduplicated and subsampled once per
process (a module-level cache); each call then embeds the union of their molecules once
(``bace`` and ``bace-pic50`` share theirs) and fits one probe per task. Measured on
2 cores with ``MTDFeaturizer("quickstart")``: see docs/EXPERIMENTS.md.

The molecules handed to ``embed`` are standardised keys
(:func:`molmtd.molecules.standardize_smiles`), so an embedder may skip standardisation:
:func:`student_embedder` goes straight from keys to graphs to a student's embedding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["dev_probe_score", "dev_molecules", "student_embedder", "clear_cache"]

log = logging.getLogger(__name__)

#: share of each dev task held out for scoring
TEST_SIZE = 0.2


@dataclass(frozen=True)
class _DevTask:
    name: str
    task_type: str
    keys: list[str]
    y: np.ndarray


_TASKS: dict[tuple[str, int | None], _DevTask] = {}
_KEYS: dict[str, str | None] = {}  # raw SMILES -> standardised key (None: invalid)


def clear_cache() -> None:
    """Forget the cached dev datasets (they are rebuilt on the next call)."""
    _TASKS.clear()
    _KEYS.clear()


def _standardize(raw: list[str]) -> list[str | None]:
    """Standardised keys of ``raw``; each distinct SMILES is standardised once per process."""
    from molmtd.molecules import standardize_many

    new = list(dict.fromkeys(r for r in raw if r not in _KEYS))
    if new:
        keys, _ = standardize_many(new)
        _KEYS.update(zip(new, keys, strict=True))
    return [_KEYS[r] for r in raw]


def _dev_task(name: str, max_molecules: int | None) -> _DevTask:
    """Standardised, deduplicated keys and labels of one dev task; cached per process.

    The subsample is fixed (seed 0, drawn on file positions before standardisation), so
    tasks that share a file order (``bace``, ``bace-pic50``) keep the same molecules.
    """
    key = (name, max_molecules)
    if key not in _TASKS:
        from molmtd.downstream.datasets import load_dataset

        raw, y, task_type = load_dataset(name)
        idx = np.arange(len(raw))
        if max_molecules is not None and len(raw) > max_molecules:
            idx = np.sort(np.random.default_rng(0).permutation(len(raw))[:max_molecules])
        keys = _standardize([raw[i] for i in idx])
        first: dict[str, int] = {}
        for j, k in enumerate(keys):
            if k is not None and k not in first:
                first[k] = j
        keep = np.asarray(sorted(first.values()), dtype=np.int64)
        _TASKS[key] = _DevTask(name, task_type, [keys[j] for j in keep], y[idx[keep]])
    return _TASKS[key]


def dev_molecules(max_molecules: int | None = 1000,
                  tasks: Sequence[str] | None = None) -> list[str]:
    """The distinct standardised molecules that :func:`dev_probe_score` embeds."""
    from molmtd.downstream.datasets import dev_tasks

    names = list(dev_tasks() if tasks is None else tasks)
    return list(dict.fromkeys(k for n in names for k in _dev_task(n, max_molecules).keys))


def dev_probe_score(embed: Callable[[list[str]], np.ndarray], *, seed: int = 0,
                    max_molecules: int | None = 1000,
                    tasks: Sequence[str] | None = None) -> dict[str, float]:
    """Score an embedder on the development tasks with a linear probe.

    Args:
        embed: standardised SMILES ``[n]`` -> float array ``[n, d]``; NaN rows (molecules
            it cannot embed) are left out of that task's training and test sets.
            ``MTDFeaturizer(..., on_error="nan").transform`` fits.
        seed: the random split (stratified for classification) and the probe's seed.
        max_molecules: molecules per task (a fixed subsample); None: all.
        tasks: dev task names (default: every one of
            :func:`~molmtd.downstream.datasets.dev_tasks`).

    Returns:
        task name -> primary metric on its test split (R2 for regression, AUROC for
        classification), and ``"mean"`` over the tasks.

    Raises:
        ValueError: a task that is not a development task, an ``embed`` output of the
            wrong shape, or a task with fewer than 20 embedded molecules.
    """
    from molmtd.downstream.datasets import dev_tasks
    from molmtd.downstream.metrics import PRIMARY_METRIC, score_predictions
    from molmtd.downstream.splits import random_split

    names = list(dev_tasks() if tasks is None else tasks)
    bad = [n for n in names if n not in dev_tasks()]
    if bad or not names:
        raise ValueError(f"{bad or 'no task'}: dev_probe_score takes development tasks only "
                         f"({', '.join(dev_tasks())}); report tasks are for molmtd evaluate")
    molecules = dev_molecules(max_molecules, names)
    X = np.asarray(embed(list(molecules)), dtype=np.float64)
    if X.ndim != 2 or len(X) != len(molecules):
        raise ValueError(f"embed returned shape {X.shape} for {len(molecules)} molecules; "
                         "expected [n_molecules, dim]")
    row = {k: i for i, k in enumerate(molecules)}
    ok_all = np.isfinite(X).all(axis=1)
    scores: dict[str, float] = {}
    for name in names:
        task = _dev_task(name, max_molecules)
        rows = np.asarray([row[k] for k in task.keys], dtype=np.int64)
        ok = ok_all[rows]
        if (~ok).any():
            log.warning("dev probe, %s: %d of %d molecules not embedded; left out", name,
                        int((~ok).sum()), len(ok))
        rows, y = rows[ok], task.y[ok]
        if len(rows) < 20:
            raise ValueError(f"dev task {name}: only {len(rows)} molecules embedded")
        stratify = y if task.task_type == "classification" else None
        train, test = random_split(len(rows), TEST_SIZE, seed, stratify)
        pred = _ridge_probe(X[rows[train]], y[train], X[rows[test]])
        result = score_predictions(task.task_type, y[test], pred)
        scores[name] = float(result[PRIMARY_METRIC[task.task_type]])
    scores["mean"] = float(np.mean([scores[n] for n in names]))
    return scores


def _ridge_probe(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray) -> np.ndarray:
    """Z-score (train statistics), clip, RidgeCV; predictions for ``X_test``."""
    from sklearn.linear_model import RidgeCV

    from molmtd.downstream.models import Z_CLIP

    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale[scale < 1e-12] = 1.0  # StandardScaler's rule for constant dimensions
    A = np.clip((X_train - mean) / scale, -Z_CLIP, Z_CLIP)
    B = np.clip((X_test - mean) / scale, -Z_CLIP, Z_CLIP)
    return RidgeCV(alphas=np.logspace(-2, 5, 15)).fit(A, y_train).predict(B)


def student_embedder(student, *, readout: str = "embedding", batch_size: int = 256,
                     device: str | None = None) -> Callable[[list[str]], np.ndarray]:
    """An ``embed`` for :func:`dev_probe_score` from a live student (no artifact on disk).

    Takes standardised keys (no second standardisation), builds graphs, runs the student
    in eval mode under ``torch.inference_mode`` and restores its train/eval mode after.
    The collated graph batches of the last key list are kept, so calling it again on the
    same molecules (every epoch) costs only the forward passes.

    Args:
        student: a :class:`~molmtd.student.GNNStudent`.
        readout: "embedding" (``forward_batch``) or "layers" (``layer_embeddings``).
        batch_size: molecules per forward pass.
        device: where to run; default: the device of the student's parameters.

    Raises:
        ValueError: unknown readout.
    """
    if readout not in ("embedding", "layers"):
        raise ValueError(f"readout must be 'embedding' or 'layers', got {readout!r}")

    cached: dict[str, object] = {}

    def embed(keys: list[str]) -> np.ndarray:
        import torch

        from molmtd.graphs import graph_batches_from_smiles

        keys = list(keys)
        if cached.get("keys") != keys:
            batches, _ = graph_batches_from_smiles(keys, batch_size)
            cached["keys"], cached["batches"] = keys, list(batches)
        dev = device or next(student.parameters()).device
        was_training = student.training
        student.eval()
        out = None
        try:
            with torch.inference_mode():
                for positions, batch in cached["batches"]:
                    batch = batch.to(dev)
                    emb = (student.layer_embeddings(batch) if readout == "layers"
                           else student.forward_batch(batch)).float().cpu().numpy()
                    if out is None:
                        out = np.full((len(keys), emb.shape[1]), np.nan, dtype=np.float32)
                    out[positions] = emb
        finally:
            student.train(was_training)
        return out if out is not None else np.full((len(keys), 1), np.nan, np.float32)

    return embed
