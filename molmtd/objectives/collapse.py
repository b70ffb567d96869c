"""Measuring and fighting dimensional collapse of the student embedding.

A density head that is deep enough can read every teacher from a handful of directions of
the embedding; our 10k-molecule students used ~8 of 300 (docs/EXPERIMENTS.md). These two
functions are what the trainer logs (effective rank) and may add to the loss (VICReg's
variance and covariance terms, Bardes et al. 2022) to keep the embedding spread out.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["effective_rank", "variance_covariance_penalty"]


def effective_rank(x: Tensor, eps: float = 1e-8) -> float:
    """exp(entropy of the normalised singular values) of the column-z-scored ``x``.

    Roy & Vetterli (2007). Columns are z-scored first, so a dimension counts by how it
    varies with the others, not by its scale; constant columns are dropped. 1 means every
    molecule lies on one line, ``min(n, d)`` means a spread-out embedding.

    Shapes:
        x ``[n, d]`` -> float.
    """
    x = x.detach().to(torch.float64)
    std = x.std(dim=0)
    x = x[:, std > eps]
    if x.shape[0] < 2 or x.shape[1] == 0:
        return float(min(x.shape[1], 1))
    z = (x - x.mean(dim=0)) / x.std(dim=0)
    s = torch.linalg.svdvals(z)
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def variance_covariance_penalty(s: Tensor, eps: float = 1e-4) -> tuple[Tensor, Tensor]:
    """VICReg's variance and covariance terms of a batch of embeddings.

    variance: mean over dimensions of ``relu(1 - sqrt(var + eps))``: zero once every
    dimension has a batch standard deviation of at least 1. covariance: sum of the squared
    off-diagonal entries of the batch covariance matrix, divided by the width.

    Shapes:
        s ``[B, D]`` -> (``[]``, ``[]``).
    """
    s = s.float()
    centred = s - s.mean(dim=0)
    n = max(s.shape[0] - 1, 1)
    std = torch.sqrt(centred.var(dim=0) + eps) if s.shape[0] > 1 else torch.ones_like(s[0])
    variance = torch.relu(1.0 - std).mean()
    cov = centred.T @ centred / n
    off = cov - torch.diag(torch.diagonal(cov))
    covariance = off.square().sum() / s.shape[1]
    return variance, covariance
