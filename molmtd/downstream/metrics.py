"""Property-prediction metrics (scikit-learn).

R2, MAE, RMSE for regression; AUROC, AUPRC for binary classification; which one ranks
models and in which direction.
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["METRICS", "PRIMARY_METRIC", "HIGHER_IS_BETTER", "score_predictions"]

log = logging.getLogger(__name__)

METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("r2", "mae", "rmse"),
    "classification": ("auroc", "auprc"),
}
PRIMARY_METRIC = {"regression": "r2", "classification": "auroc"}
HIGHER_IS_BETTER = {"r2": True, "mae": False, "rmse": False, "auroc": True, "auprc": True}


def score_predictions(task_type: str, y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """Every metric of the task type.

    Args:
        task_type: "regression" or "classification".
        y_true: labels ``[n]`` (0/1 for classification).
        y_score: predictions ``[n]`` (the positive-class probability for classification).

    Returns:
        metric name -> value; AUROC/AUPRC are NaN (with a log warning) when the test set
        holds a single class.

    Raises:
        ValueError: unknown task type or mismatched lengths.
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_score = np.asarray(y_score, dtype=np.float64).ravel()
    if y_true.shape != y_score.shape:
        raise ValueError(f"y_true and y_score differ in length: {len(y_true)} vs {len(y_score)}")
    if task_type == "regression":
        return {"r2": float(skm.r2_score(y_true, y_score)),
                "mae": float(skm.mean_absolute_error(y_true, y_score)),
                "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_score)))}
    if task_type == "classification":
        if np.unique(y_true).size < 2:
            log.warning("test set holds a single class; AUROC and AUPRC are undefined (NaN)")
            return {"auroc": float("nan"), "auprc": float("nan")}
        return {"auroc": float(skm.roc_auc_score(y_true, y_score)),
                "auprc": float(skm.average_precision_score(y_true, y_score))}
    raise ValueError(f"unknown task_type {task_type!r}; expected 'regression' or 'classification'")
