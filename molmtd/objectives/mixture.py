"""Log-density of a diagonal Gaussian mixture: the one formula every density here uses."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["diagonal_mixture_log_prob", "LOG_2PI"]

LOG_2PI = math.log(2.0 * math.pi)


def diagonal_mixture_log_prob(logits: Tensor, means: Tensor, log_scales: Tensor,
                              t: Tensor) -> Tensor:
    r"""Exact log-density of ``t`` under a mixture of diagonal Gaussians.

    .. math::
        \log p(t) = \operatorname{logsumexp}_m \Big[\log \pi_m
        - \sum_j \big(\tfrac12 z_{mj}^2 + \log\sigma_{mj}\big) - \tfrac d2 \log 2\pi\Big],
        \qquad z_{mj} = (t_j - \mu_{mj}) / \sigma_{mj},
        \quad \pi = \operatorname{softmax}(\text{logits})

    Hand-written rather than ``torch.distributions.MixtureSameFamily``: it is called on
    every training step, and building distribution objects (with their argument checks,
    which synchronise the GPU) each step buys nothing; the tests compare both.

    Args:
        logits: unnormalised mixture weights (normalised here with ``log_softmax``).
        means: component means.
        log_scales: component log standard deviations (natural log).
        t: points to evaluate.

    Shapes:
        - conditional (one mixture per row): logits ``[B, M]``, means and log_scales
          ``[B, M, d]``, t ``[B, d]``
        - shared (one mixture for all rows): logits ``[M]``, means and log_scales
          ``[M, d]``, t ``[B, d]``
        - output: ``[B]``

    Returns:
        log p(t) per row, in nats, computed in at least float32 (safe under autocast).
    """
    dtype = torch.promote_types(means.dtype, torch.float32)
    logits, means, log_scales, t = (x.to(dtype) for x in (logits, means, log_scales, t))
    z = (t.unsqueeze(-2) - means) * torch.exp(-log_scales)
    per_mode = -0.5 * z.square().sum(-1) - log_scales.sum(-1) - 0.5 * t.shape[-1] * LOG_2PI
    return torch.logsumexp(torch.log_softmax(logits, dim=-1) + per_mode, dim=-1)
