"""Unconditional teacher densities p_k(t) and the MI diagnostic I(S;T_k) built on them."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from molmtd.errors import ShapeError
from molmtd.objectives.mixture import diagonal_mixture_log_prob

__all__ = ["MarginalDensity", "MIEstimate", "mutual_information_estimate"]


class MarginalDensity(nn.Module):
    """A diagonal Gaussian mixture p(t) over standardised teacher embeddings.

    One mode is the exact maximum-likelihood Gaussian (variances floored at ``var_floor``);
    more modes are fitted with scikit-learn's ``GaussianMixture(covariance_type="diag")``
    (EM, k-means initialisation, deterministic for a seed, ``reg_covar=var_floor`` added to
    every variance). Either way constant dimensions get a finite density. Evaluated in
    torch so it runs on the training device.

    Args:
        weights: mixture weights (positive, summing to 1).
        means: component means.
        variances: component variances (positive).

    Shapes:
        - weights ``[M]``, means and variances ``[M, d]``
        - ``nll(t)``: ``[B, d]`` -> ``[B]``

    Raises:
        ShapeError: the parameter shapes disagree.
    """

    def __init__(self, weights: Tensor, means: Tensor, variances: Tensor):
        super().__init__()
        weights = torch.as_tensor(weights, dtype=torch.float32)
        means = torch.as_tensor(means, dtype=torch.float32)
        variances = torch.as_tensor(variances, dtype=torch.float32)
        if (weights.dim() != 1 or means.dim() != 2 or means.shape != variances.shape
                or means.shape[0] != weights.shape[0]):
            raise ShapeError("MarginalDensity weights, means, variances", "[M], [M, d], [M, d]",
                             f"{list(weights.shape)}, {list(means.shape)}, "
                             f"{list(variances.shape)}")
        self.register_buffer("weights", weights)
        self.register_buffer("means", means)
        self.register_buffer("variances", variances)

    @property
    def dim(self) -> int:
        """Dimension d of the modelled vectors."""
        return int(self.means.shape[1])

    @property
    def n_modes(self) -> int:
        """Number of mixture components M."""
        return int(self.means.shape[0])

    @classmethod
    def fit(cls, z: Tensor | np.ndarray, n_modes: int = 1, seed: int = 0,
            var_floor: float = 1e-4, max_iter: int = 100) -> MarginalDensity:
        """Fit to rows of standardised teacher embeddings.

        Args:
            z: rows ``[N, d]`` (only rows the teacher embedded: all finite).
            n_modes: mixture components M.
            seed: random state of the EM initialisation.
            var_floor: variance floor (one mode) or scikit-learn's ``reg_covar`` (more).
            max_iter: EM iterations at most.

        Raises:
            ShapeError: ``z`` is not 2-D.
            ValueError: ``z`` holds NaN/inf, or fewer than ``max(2, n_modes)`` rows.
        """
        x = torch.as_tensor(z).detach().cpu().double().numpy()
        if x.ndim != 2:
            raise ShapeError("MarginalDensity.fit z", "[N, d]", list(x.shape))
        if not np.isfinite(x).all():
            raise ValueError("MarginalDensity.fit: z contains NaN/inf; pass only the rows the "
                             "teacher embedded (its ok mask)")
        if x.shape[0] < max(2, n_modes):
            raise ValueError(f"MarginalDensity.fit needs at least {max(2, n_modes)} rows for "
                             f"{n_modes} mode(s). Got {x.shape[0]} instead.")
        if n_modes == 1:  # the exact maximum-likelihood fit; EM would only add noise
            return cls(np.ones(1), x.mean(0)[None], np.maximum(x.var(0), var_floor)[None])
        from sklearn.mixture import GaussianMixture

        gm = GaussianMixture(n_components=n_modes, covariance_type="diag", reg_covar=var_floor,
                             max_iter=max_iter, random_state=seed).fit(x)
        return cls(gm.weights_, gm.means_, gm.covariances_)

    def log_prob(self, t: Tensor) -> Tensor:
        """Log-density log p(t) per row, in nats, for the whole vector."""
        if t.dim() != 2 or t.shape[1] != self.dim:
            raise ShapeError("MarginalDensity input", f"[B, {self.dim}]", list(t.shape))
        return diagonal_mixture_log_prob(torch.log(self.weights), self.means,
                                         0.5 * torch.log(self.variances), t)

    def nll(self, t: Tensor) -> Tensor:
        """-log p(t) per row, in nats, for the whole vector."""
        return -self.log_prob(t)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_modes={self.n_modes}"


class MIEstimate(NamedTuple):
    """An estimate of I(S; T_k): whole vector and per teacher dimension, in nats."""

    nats: Tensor
    nats_per_dim: Tensor


def mutual_information_estimate(marginal_nll: Tensor, conditional_nll: Tensor,
                                mask: Tensor | None = None, *, dim: int | None = None
                                ) -> MIEstimate:
    """``I(S;T) ~ E[-log p(t)] - E[-log q(t|s)]`` over the valid rows.

    A diagnostic, not a bound: both terms are cross-entropies that over-estimate their
    entropies, so the difference is close to 0 (possibly slightly negative) when the
    student holds nothing of the teacher and grows as q(t|s) beats p(t).

    Args:
        marginal_nll: ``-log p_k(t)`` per row (whole vector), e.g. ``MarginalDensity.nll``.
        conditional_nll: ``-log q_k(t|s)`` per row (whole vector), e.g.
            ``GaussianObjective.conditional_nll``.
        mask: valid rows; others (possibly NaN) are ignored. None: every row.
        dim: teacher dimension d_k, for ``nats_per_dim`` (NaN when None).

    Shapes:
        marginal_nll, conditional_nll, mask: ``[B]``; outputs: ``[]``.

    Returns:
        MIEstimate(nats, nats_per_dim); both NaN when no row is valid.

    Raises:
        ShapeError: the inputs are not three ``[B]`` tensors.
    """
    if mask is None:
        mask = torch.ones(marginal_nll.shape, dtype=torch.bool, device=marginal_nll.device)
    if not (marginal_nll.dim() == 1 and marginal_nll.shape == conditional_nll.shape
            == mask.shape):
        raise ShapeError("mutual_information_estimate inputs", "three [B] tensors",
                         f"{list(marginal_nll.shape)}, {list(conditional_nll.shape)}, "
                         f"{list(mask.shape)}")
    mask = mask.to(torch.bool)
    diff = torch.where(mask, marginal_nll - conditional_nll, torch.zeros_like(marginal_nll))
    nats = diff.sum() / mask.sum()  # 0/0 = NaN when no row is valid
    per_dim = nats / dim if dim else torch.full_like(nats, math.nan)
    return MIEstimate(nats, per_dim)
