"""Property prediction from a featurizer or precomputed embeddings.

Seeded train/test evaluation over several splits, and k-fold cross-validation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from molmtd.downstream.metrics import score_predictions
from molmtd.downstream.models import make_model, predict_scores
from molmtd.downstream.splits import kfold_splits, make_split

__all__ = ["embed_features", "fit_and_score", "evaluate_property", "cross_validate_property"]

log = logging.getLogger(__name__)


def embed_features(features, smiles: Sequence[str] | None) -> np.ndarray:
    """``features`` as a float matrix.

    An array is used as is; a transformer (anything with ``transform``, e.g.
    :class:`~molmtd.featurizer.MTDFeaturizer`) is applied to ``smiles``.

    Raises:
        ValueError: a transformer without ``smiles``, or a result that is not 2-D.
    """
    if hasattr(features, "transform"):
        if smiles is None:
            raise ValueError("pass smiles= when features is a featurizer")
        X = features.transform(list(smiles))
    else:
        X = features
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"features must be a 2-D array [n, dim], got shape {X.shape}")
    return X


def _prepare(features, y, smiles, need_smiles: bool):
    X = embed_features(features, smiles)
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(X) != len(y) or (smiles is not None and len(smiles) != len(y)):
        raise ValueError(f"features ({len(X)}), y ({len(y)}) and smiles "
                         f"({'-' if smiles is None else len(smiles)}) must have the same length")
    if need_smiles and smiles is None:
        raise ValueError("a scaffold split needs smiles=")
    keep = np.flatnonzero(np.isfinite(X).all(axis=1) & np.isfinite(y))
    if len(keep) < len(y):
        log.warning("dropping %d of %d molecules with NaN features or labels",
                    len(y) - len(keep), len(y))
    smiles = None if smiles is None else [smiles[i] for i in keep]
    return X[keep], y[keep], smiles, keep


def fit_and_score(X_train, y_train, X_test, y_test, task_type: str, model: str = "linear",
                  seed: int = 0) -> dict[str, float]:
    """Fit a fresh seeded model and score it on the test data.

    The model is built by :func:`~molmtd.downstream.models.make_model`.
    """
    est = make_model(model, task_type, seed).fit(X_train, y_train)
    return score_predictions(task_type, y_test, predict_scores(est, X_test, task_type))


def evaluate_property(features, y, task_type: str, *, smiles: Sequence[str] | None = None,
                      model: str = "linear", splits: Sequence[str] = ("random",),
                      seeds: Sequence[int] = (0, 1, 2), test_size: float = 0.2):
    """Train/test evaluation for every split kind and seed.

    Args:
        features: embeddings ``[n, dim]`` or a featurizer applied to ``smiles``.
        y: labels ``[n]``.
        task_type: "regression" or "classification".
        smiles: the molecules (needed for scaffold splits and for a featurizer).
        model: "linear", "mlp", "rf" or "gbm".
        splits: "random" (stratified for classification) and/or "scaffold".
        seeds: one train/test split and one model seed per value.
        test_size: share of molecules in the test set.

    Returns:
        DataFrame with one row per (split, seed): n_train, n_test and every metric.
        Molecules with NaN features are dropped first (logged).
    """
    import pandas as pd

    X, y, smiles, _ = _prepare(features, y, smiles, need_smiles="scaffold" in splits)
    ref = smiles if smiles is not None else [""] * len(y)
    rows = []
    for kind in splits:
        for seed in seeds:
            stratify = y if task_type == "classification" else None
            train, test = make_split(kind, ref, test_size, seed, stratify)
            scores = fit_and_score(X[train], y[train], X[test], y[test], task_type, model, seed)
            rows.append({"split": kind, "seed": seed, "n_train": len(train),
                         "n_test": len(test), **scores})
    return pd.DataFrame(rows)


def cross_validate_property(features, y, task_type: str, *, smiles: Sequence[str] | None = None,
                            model: str = "linear", split: str = "random", n_splits: int = 5,
                            seed: int = 0):
    """Seeded k-fold cross-validation.

    Folds are random (stratified for classification) or by scaffold.

    Returns:
        DataFrame with one row per fold: fold, n_train, n_test and every metric.
    """
    import pandas as pd

    X, y, smiles, _ = _prepare(features, y, smiles, need_smiles=split == "scaffold")
    ref = smiles if smiles is not None else [""] * len(y)
    stratify = y if task_type == "classification" else None
    rows = []
    for fold, (train, test) in enumerate(kfold_splits(split, ref, n_splits, seed, stratify)):
        scores = fit_and_score(X[train], y[train], X[test], y[test], task_type, model, seed)
        rows.append({"fold": fold, "n_train": len(train), "n_test": len(test), **scores})
    return pd.DataFrame(rows)
