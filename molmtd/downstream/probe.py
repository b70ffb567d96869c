"""The paper's MLP probe as scikit-learn estimators (torch): one hidden layer, LayerNorm.

Linear(d, 128) -> LayerNorm -> ReLU -> Linear(128, 1); Adam (lr 1e-3), up to 100 epochs,
early stopping on a seeded validation split of the training data, and the weights of the
*best* validation epoch are restored (a copy, not a reference to the live parameters).
scikit-learn's MLPRegressor/MLPClassifier have no LayerNorm, hence this small module.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["MLPProbeRegressor", "MLPProbeClassifier"]

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
