"""Fine-tuning a distilled featurizer on labelled molecules (scikit-learn estimators).

``inputs`` (molecules -> graphs and extra features), ``network`` (encoder + head),
``training`` (the two-phase loop with early stopping and epoch checkpoints), ``estimators``
(MTDRegressor, MTDClassifier), ``persistence`` (safetensors + JSON), ``cli_run`` (the
``molmtd finetune`` / ``molmtd predict`` runs on CSV files).
"""

from molmtd.finetune.estimators import MTDClassifier, MTDRegressor
from molmtd.finetune.persistence import load_estimator

__all__ = ["MTDRegressor", "MTDClassifier", "load_estimator"]
