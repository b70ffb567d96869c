"""Probes as scikit-learn estimators: the paper's MLP probe (torch) and a kNN probe.

MLP probe: Linear(d, 128) -> LayerNorm -> ReLU -> Linear(128, 1); Adam (lr 1e-3), up to
100 epochs, early stopping on a seeded validation split of the training data, and the
weights of the *best* validation epoch are restored (a copy, not a reference to the live
parameters). scikit-learn's MLPRegressor/MLPClassifier have no LayerNorm, hence this code.

kNN probe: scikit-learn's KNeighbors (Euclidean, uniform weights) with k chosen among
3, 5, 10, 20 by a seeded 3-fold inner cross-validation; it measures whether molecules with
similar labels are neighbours in the embedding, with no fitted weights at all.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["MLPProbeRegressor", "MLPProbeClassifier", "KNNProbeRegressor", "KNNProbeClassifier"]

log = logging.getLogger(__name__)


class _MLPProbe(BaseEstimator):
    """Shared training loop.

    Args:
        hidden_dim: width of the hidden layer.
        lr: Adam learning rate.
        max_epochs: upper bound on epochs.
        batch_size: minibatch size.
        patience: epochs without validation improvement before stopping.
        validation_fraction: share of the training data held out for early stopping.
        random_state: seed for the split, the initialisation and the batch order.

    Shapes:
        fit: X ``[n, d]``, y ``[n]``.
    """

    _classifier = False

    def __init__(self, hidden_dim: int = 128, lr: float = 1e-3, max_epochs: int = 100,
                 batch_size: int = 64, patience: int = 10, validation_fraction: float = 0.1,
                 random_state: int = 0):
        self.hidden_dim = hidden_dim
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _network(self, in_dim: int):
        from torch import nn

        return nn.Sequential(nn.Linear(in_dim, self.hidden_dim), nn.LayerNorm(self.hidden_dim),
                             nn.ReLU(), nn.Linear(self.hidden_dim, 1))

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.model_selection import train_test_split

        n = len(y)
        n_val = int(round(self.validation_fraction * n))
        if n_val < 2 or n - n_val < 2:
            return np.arange(n), np.arange(0)
        stratify = None
        if self._classifier and np.bincount(y.astype(int)).min() >= 2:
            stratify = y
        train, val = train_test_split(np.arange(n), test_size=n_val,
                                      random_state=self.random_state, stratify=stratify)
        return train, val

    def fit(self, X, y):
        """Train the probe.

        Raises:
            ValueError: X is not 2-D, lengths differ, or (classifier) y is not binary.
        """
        import torch

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).ravel()
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be [n, d] and y [n]; got {X.shape} and {y.shape}")
        if self._classifier:
            self.classes_ = np.unique(y)
            if not np.array_equal(self.classes_, [0.0, 1.0]):
                raise ValueError(f"MLPProbeClassifier is binary: y must hold 0 and 1, "
                                 f"got classes {self.classes_.tolist()}")
            target = y
        else:
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
            target = (y - self.y_mean_) / self.y_std_
        self.n_features_in_ = X.shape[1]
        train, val = self._split(y)
        loss_fn = (torch.nn.BCEWithLogitsLoss() if self._classifier else torch.nn.MSELoss())
        Xt = torch.from_numpy(X)
        yt = torch.from_numpy(target.astype(np.float32))
        with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's RNG
            torch.manual_seed(self.random_state)
            net = self._network(X.shape[1])
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            gen = torch.Generator().manual_seed(self.random_state)
            best, best_state, stale = float("inf"), copy.deepcopy(net.state_dict()), 0
            self.n_epochs_ = 0
            for _epoch in range(self.max_epochs):
                net.train()
                order = torch.from_numpy(train)[torch.randperm(len(train), generator=gen)]
                for start in range(0, len(order), self.batch_size):
                    idx = order[start:start + self.batch_size]
                    opt.zero_grad()
                    loss_fn(net(Xt[idx]).squeeze(-1), yt[idx]).backward()
                    opt.step()
                self.n_epochs_ += 1
                if len(val) == 0:
                    continue
                net.eval()
                with torch.no_grad():
                    v = float(loss_fn(net(Xt[val]).squeeze(-1), yt[val]))
                if v < best - 1e-6:
                    best, best_state, stale = v, copy.deepcopy(net.state_dict()), 0
                else:
                    stale += 1
                    if stale >= self.patience:
                        break
            if len(val):
                net.load_state_dict(best_state)
        self.best_val_loss_ = best if len(val) else float("nan")
        self.network_ = net.eval()
        return self

    def _raw(self, X) -> np.ndarray:
        import torch

        check_is_fitted(self, "network_")
        X = np.asarray(X, dtype=np.float32)
        with torch.no_grad():
            return self.network_(torch.from_numpy(X)).squeeze(-1).numpy().astype(np.float64)


class MLPProbeRegressor(RegressorMixin, _MLPProbe):
    """The MLP probe for regression (targets standardised internally)."""

    def predict(self, X) -> np.ndarray:
        return self._raw(X) * self.y_std_ + self.y_mean_


class MLPProbeClassifier(ClassifierMixin, _MLPProbe):
    """The MLP probe for binary classification (labels 0/1)."""

    _classifier = True

    def predict_proba(self, X) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self._raw(X)))
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


class _KNNProbe(BaseEstimator):
    """k-nearest-neighbour probe: Euclidean distance, uniform weights, k by inner CV.

    k is chosen among ``ks`` (those that fit the inner training folds) by a seeded,
    shuffled ``cv``-fold inner cross-validation on the training data (R2 for regression,
    AUROC for classification), then the model is refitted on all training data. Feed it
    z-scored features (``make_model("knn", ...)`` does): raw fingerprint counts or
    descriptors on very different scales would let a few dimensions decide the distance.

    Shapes:
        fit: X ``[n, d]``, y ``[n]``.
    """

    _classifier = False

    def __init__(self, ks: tuple[int, ...] = (3, 5, 10, 20), cv: int = 3, random_state: int = 0):
        self.ks = ks
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):
        """Choose k by inner cross-validation and fit on all of ``X``.

        Raises:
            ValueError: fewer than ``cv`` training molecules.
        """
        from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(y) < self.cv:
            raise ValueError(f"kNN probe: {len(y)} training molecules, need at least {self.cv}")
        largest = len(y) - -(-len(y) // self.cv)  # smallest inner training fold
        ks = [k for k in self.ks if k <= largest] or [max(1, largest)]
        if self._classifier:
            self.classes_ = np.unique(y)
            base, scoring = KNeighborsClassifier(), "roc_auc"
            folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
            if np.bincount(y.astype(int)).min() < self.cv:
                folds = KFold(self.cv, shuffle=True, random_state=self.random_state)
        else:
            base, scoring = KNeighborsRegressor(), "r2"
            folds = KFold(self.cv, shuffle=True, random_state=self.random_state)
        if len(ks) == 1:
            self.model_ = base.set_params(n_neighbors=ks[0]).fit(X, y)
        else:
            search = GridSearchCV(base, {"n_neighbors": ks}, scoring=scoring, cv=folds,
                                  error_score=np.nan)
            self.model_ = search.fit(X, y).best_estimator_
        self.n_neighbors_ = int(self.model_.n_neighbors)
        self.n_features_in_ = X.shape[1]
        return self


class KNNProbeRegressor(RegressorMixin, _KNNProbe):
    """The kNN probe for regression (mean label of the k nearest training molecules)."""

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(np.asarray(X, dtype=np.float64))


class KNNProbeClassifier(ClassifierMixin, _KNNProbe):
    """The kNN probe for binary classification (share of positives among the k nearest)."""

    _classifier = True

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(np.asarray(X, dtype=np.float64))

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(np.asarray(X, dtype=np.float64))
