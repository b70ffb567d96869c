"""Property models chosen by name, each a seeded scikit-learn pipeline (z-score -> model).

| name   | regression                      | classification                            |
|--------|---------------------------------|-------------------------------------------|
| linear | RidgeCV (alpha by efficient LOO) | LogisticRegression, C by 3-fold AUROC    |
| mlp    | the paper's MLP probe           | the paper's MLP probe                     |
| knn    | kNN probe, k in 3/5/10/20 by CV | kNN probe (P = share of positive neighbours) |
| ridge  | RidgeCV (alpha by efficient LOO) | RidgeClassifierCV (alpha by LOO), decision function |
| rf     | RandomForestRegressor           | RandomForestClassifier                    |
| gbm    | HistGradientBoostingRegressor   | HistGradientBoostingClassifier            |

The z-scoring (``StandardScaler``) is fitted on the training data only, and z-scores are
clipped to +-``Z_CLIP``: a dimension that is (almost) constant in the training data, such
as a dead ReLU unit of a pretrained model, has a scale near 1e-8, so one test molecule
that activates it gets a z-score near 1e7 and a linear model's prediction explodes
(measured: MiniMol on the solubility set, R2 = -1.5e8 on one random split).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MODELS", "PROBES", "make_model", "predict_scores"]

MODELS = ("linear", "mlp", "knn", "ridge", "rf", "gbm")
#: the three probes (``molmtd evaluate --model linear,mlp,knn``)
PROBES = ("linear", "mlp", "knn")
#: bound on z-scored features; a train-set bit that fires once in 1000 molecules z-scores to ~32
Z_CLIP = 10.0


def _estimator(name: str, task_type: str, seed: int):
    classify = task_type == "classification"
    if name == "linear":
        if classify:
            from sklearn.linear_model import LogisticRegression
            from sklearn.model_selection import GridSearchCV, StratifiedKFold

            # GridSearchCV rather than LogisticRegressionCV: same job, an API stable
            # across scikit-learn versions, and a seeded shuffled CV
            return GridSearchCV(LogisticRegression(max_iter=2000),
                                {"C": np.logspace(-3, 1, 5).tolist()}, scoring="roc_auc",
                                cv=StratifiedKFold(3, shuffle=True, random_state=seed))
        from sklearn.linear_model import RidgeCV

        return RidgeCV(alphas=np.logspace(-2, 5, 15))
    if name == "ridge":
        # a linear probe for screening many featurizers: one SVD per fit whatever the
        # number of alphas, where the logistic grid costs ~15 lbfgs fits (16 s for one
        # 2048-d featurizer on 2k molecules; 30+ featurizers per task made a screen hours)
        from sklearn.linear_model import RidgeClassifierCV, RidgeCV

        alphas = np.logspace(-2, 5, 15)
        return RidgeClassifierCV(alphas=alphas) if classify else RidgeCV(alphas=alphas)
    if name == "mlp":
        from molmtd.downstream.probe import MLPProbeClassifier, MLPProbeRegressor

        return (MLPProbeClassifier if classify else MLPProbeRegressor)(random_state=seed)
    if name == "knn":
        from molmtd.downstream.probe import KNNProbeClassifier, KNNProbeRegressor

        return (KNNProbeClassifier if classify else KNNProbeRegressor)(random_state=seed)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(n_estimators=200, n_jobs=1, random_state=seed)
    if name == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return cls(random_state=seed)
    raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")


def make_model(name: str, task_type: str, seed: int = 0):
    """A fresh, seeded ``Pipeline([("scale", StandardScaler()), ("clip", ...), ("model", ...)])``.

    Raises:
        ValueError: unknown model name or task type.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if task_type not in ("regression", "classification"):
        raise ValueError(f"unknown task_type {task_type!r}; expected 'regression' or "
                         "'classification'")
    clip = FunctionTransformer(np.clip, kw_args={"a_min": -Z_CLIP, "a_max": Z_CLIP})
    return Pipeline([("scale", StandardScaler()), ("clip", clip),
                     ("model", _estimator(name, task_type, seed))])


def predict_scores(model, X: np.ndarray, task_type: str) -> np.ndarray:
    """Predictions ``[n]``: values for regression, P(class 1) for classification.

    For a classifier without probabilities (ridge): the logistic of its decision function,
    uncalibrated but in [0, 1] and in the same order, which is all AUROC and AUPRC read.
    """
    if task_type == "classification":
        if not hasattr(model, "predict_proba"):
            from scipy.special import expit

            return expit(model.decision_function(X))
        return model.predict_proba(X)[:, 1]
    return model.predict(X)
