"""Per-teacher heads on the student embedding: the conditional density and the regressor."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from molmtd.objectives.mixture import diagonal_mixture_log_prob

__all__ = ["GaussianMixtureHead", "RegressionHead", "MixtureParameters", "mlp"]


def mlp(in_dim: int, out_dim: int, hidden_dim: int, num_layers: int) -> nn.Sequential:
    """``num_layers`` Linear layers, each hidden one followed by LayerNorm and ReLU.

    The reference's head: ``num_layers=2``, ``hidden_dim=512``. ``num_layers=1`` is a
    single linear map.

    Raises:
        ValueError: a size is below 1.
    """
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("hidden_dim", hidden_dim),
                        ("num_layers", num_layers)):
        if int(value) < 1:
            raise ValueError(f"The {name!r} parameter of a head must be an int >= 1. "
                             f"Got {value!r} instead.")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(num_layers - 1):
        layers += [nn.Linear(width, hidden_dim), nn.LayerNorm(hidden_dim), nn.ReLU()]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class MixtureParameters(NamedTuple):
    """Parameters of one diagonal Gaussian mixture per row.

    Shapes:
        logits ``[B, M]``, means ``[B, M, d]``, log_scales ``[B, M, d]``.
    """

    logits: Tensor
    means: Tensor
    log_scales: Tensor


class GaussianMixtureHead(nn.Module):
    """Conditional density q(t | s), a diagonal Gaussian mixture, computed by an MLP on s.

    The mixture is over the teacher embedding; an MLP computes its parameters from the
    student embedding (the conditional kernel of KNIFE).

    The MLP's last layer has ``M * (1 + 2d)`` outputs, read in this order: ``M`` mixture
    logits, ``M * d`` means (mode-major), ``M * d`` log-scales (mode-major).

    Log-scales are clamped to ``[min_log_scale, max_log_scale]``. The lower bound keeps the
    density bounded: a teacher dimension the student predicts exactly (or a constant one)
    would otherwise drive its NLL to -inf. -7 is a standard deviation of about 1e-3 in
    standardised units, far below any real residual. The upper bound keeps ``exp`` finite.

    Args:
        in_dim: student embedding width D.
        out_dim: teacher dimension d.
        n_modes: mixture components M (the reference uses 1).
        hidden_dim: MLP hidden width.
        num_layers: MLP depth (number of Linear layers).
        min_log_scale: lower clamp of the log standard deviations.
        max_log_scale: upper clamp of the log standard deviations.

    Shapes:
        - s: ``[B, D]``; t: ``[B, d]``
        - ``forward(s)`` -> :class:`MixtureParameters` (logits ``[B, M]``, means
          ``[B, M, d]``, log_scales ``[B, M, d]``)
        - ``log_prob(s, t)`` -> ``[B]``

    Raises:
        ValueError: a size is below 1, or ``min_log_scale >= max_log_scale``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, n_modes: int = 1, hidden_dim: int = 512,
                 num_layers: int = 2, min_log_scale: float = -7.0, max_log_scale: float = 5.0):
        super().__init__()
        if int(n_modes) < 1:
            raise ValueError(f"The 'n_modes' parameter of GaussianMixtureHead must be an int "
                             f">= 1. Got {n_modes!r} instead.")
        if not min_log_scale < max_log_scale:
            raise ValueError(f"GaussianMixtureHead needs min_log_scale < max_log_scale. Got "
                             f"{min_log_scale} and {max_log_scale} instead.")
        self.in_dim, self.out_dim, self.n_modes = int(in_dim), int(out_dim), int(n_modes)
        self.min_log_scale, self.max_log_scale = float(min_log_scale), float(max_log_scale)
        self.net = mlp(in_dim, self.n_modes * (1 + 2 * self.out_dim), hidden_dim, num_layers)

    def reset_parameters(self) -> None:
        """Re-initialise every layer (PyTorch defaults)."""
        for module in self.net:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, s: Tensor) -> MixtureParameters:
        B, M, d = s.shape[0], self.n_modes, self.out_dim
        out = self.net(s)
        logits = out[:, :M]
        means = out[:, M:M + M * d].reshape(B, M, d)
        log_scales = out[:, M + M * d:].reshape(B, M, d)
        return MixtureParameters(logits, means,
                                 log_scales.clamp(self.min_log_scale, self.max_log_scale))

    def log_prob(self, s: Tensor, t: Tensor) -> Tensor:
        """Exact log q(t | s) per row, in nats, for the whole d-dimensional vector."""
        return diagonal_mixture_log_prob(*self(s), t)

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, out_dim={self.out_dim}, n_modes={self.n_modes}, "
                f"log_scale=[{self.min_log_scale}, {self.max_log_scale}]")


class RegressionHead(nn.Module):
    """Predicts the teacher embedding from the student's (the L2 and cosine baselines).

    Args:
        in_dim: student embedding width D.
        out_dim: teacher dimension d.
        hidden_dim: MLP hidden width.
        num_layers: MLP depth (number of Linear layers).

    Shapes:
        s: ``[B, D]`` -> ``[B, d]``.

    Raises:
        ValueError: a size is below 1.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden_dim: int = 512, num_layers: int = 2):
        super().__init__()
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.net = mlp(in_dim, out_dim, hidden_dim, num_layers)

    def reset_parameters(self) -> None:
        """Re-initialise every layer (PyTorch defaults)."""
        for module in self.net:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, s: Tensor) -> Tensor:
        return self.net(s)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}"
