"""Per-dimension teacher standardisation with statistics fixed once from the training corpus."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molmtd.errors import ShapeError

__all__ = ["TeacherStandardizer"]


class TeacherStandardizer(nn.Module):
    """z-scores teacher embeddings with fixed statistics; handles constant dimensions.

    The reference standardised teachers with an affine-free BatchNorm: batch statistics in
    training and running statistics in evaluation disagree on heavy-tailed count features
    (its validation loss rose while its training loss fell, on training molecules).
    Statistics computed once from the training corpus are deterministic and identical in
    both modes; they are buffers, so checkpoints carry them.

    A dimension whose std is below ``eps`` (or whose statistics are not finite) is
    *constant*: a fingerprint bit that never fires, say. It carries no information, and
    ``(t - mean) / std`` would be NaN or inf there. With ``drop_constant=True`` (default)
    such dimensions are removed from the output; with ``drop_constant=False`` they are
    kept and standardise to exactly 0. Dropping is preferred for the density loss: a
    constant column lets a density head shrink its scale to the clamp and earn a large,
    meaningless likelihood on it (and a spurious MI of about ``-min_log_scale`` nats per
    constant dimension in the diagnostic).

    Args:
        mean: per-dimension mean.
        std: per-dimension standard deviation.
        eps: std below which a dimension counts as constant.
        scale: if False, no z-scoring (values pass through); constant dimensions are
            still dropped or zeroed.
        drop_constant: drop constant dimensions (True) or set them to 0 (False).
        clip: if set, z-scores are clamped to ``[-clip, clip]``. A rare fingerprint bit
            (fires in 0.1% of molecules) z-scores to ~30 when it fires; under the density
            loss one such value outweighs every other dimension of the row.

    Shapes:
        - mean, std: ``[d]``
        - input: ``[B, d]``; output: ``[B, out_dim]`` where ``out_dim`` is ``d`` minus the
          constant dimensions if ``drop_constant`` else ``d``.

    Rows of NaN (molecules a teacher could not embed) stay NaN in the non-constant
    columns; the objectives mask them.

    Raises:
        ShapeError: ``mean`` and ``std`` are not both ``[d]``; input is not ``[B, d]``.
    """

    def __init__(self, mean: Tensor, std: Tensor, eps: float = 1e-6, *, scale: bool = True,
                 drop_constant: bool = True, clip: float | None = None):
        super().__init__()
        if clip is not None and not clip > 0:
            raise ValueError(f"TeacherStandardizer clip must be > 0 or None. Got {clip!r} instead.")
        self.clip = None if clip is None else float(clip)
        mean = torch.as_tensor(mean, dtype=torch.float32)
        std = torch.as_tensor(std, dtype=torch.float32)
        if mean.dim() != 1 or mean.shape != std.shape:
            raise ShapeError("TeacherStandardizer mean and std", "[d] and [d]",
                             f"{list(mean.shape)} and {list(std.shape)}")
        self.eps = float(eps)
        self.scale = bool(scale)
        self.drop_constant = bool(drop_constant)
        constant = ~(torch.isfinite(mean) & torch.isfinite(std) & (std >= eps))
        # Buffers hold exactly what forward uses: safe values at constant dimensions.
        self.register_buffer("mean", torch.where(constant, 0.0, mean))
        self.register_buffer("std", torch.where(constant, 1.0, std))
        self.register_buffer("keep", ~constant)
        # Integer copy of ``keep`` so forward indexes without a device->host sync.
        self.register_buffer("keep_index", torch.nonzero(~constant).flatten(), persistent=False)
        self.register_load_state_dict_post_hook(_refresh_keep_index)

    @property
    def in_dim(self) -> int:
        """Width of the raw teacher embedding."""
        return int(self.keep.numel())

    @property
    def out_dim(self) -> int:
        """Width of the standardised output (the head's target dimension)."""
        return int(self.keep.sum()) if self.drop_constant else self.in_dim

    @property
    def n_constant(self) -> int:
        """Number of constant dimensions."""
        return int((~self.keep).sum())

    @classmethod
    def from_data(cls, data: Tensor, eps: float = 1e-6, **kwargs) -> TeacherStandardizer:
        """Statistics from the rows of ``data`` that are entirely finite (others ignored).

        Args:
            data: raw teacher embeddings ``[N, d]``.
            eps: see the class.
            **kwargs: ``scale``, ``drop_constant`` and ``clip``, see the class.

        Raises:
            ShapeError: ``data`` is not 2-D.
            ValueError: no row of ``data`` is finite.
        """
        data = torch.as_tensor(data)
        if data.dim() != 2:
            raise ShapeError("TeacherStandardizer.from_data data", "[N, d]", list(data.shape))
        rows = data[torch.isfinite(data).all(dim=1)].double()
        if rows.shape[0] == 0:
            raise ValueError(f"TeacherStandardizer.from_data: none of the {data.shape[0]} rows "
                             "is finite; pass the rows the teacher embedded (ok mask)")
        return cls(rows.mean(0), rows.std(0, unbiased=False), eps=eps, **kwargs)

    def forward(self, t: Tensor) -> Tensor:
        if t.dim() != 2 or t.shape[1] != self.in_dim:
            raise ShapeError("TeacherStandardizer input", f"[B, {self.in_dim}]", list(t.shape))
        z = (t - self.mean) / self.std if self.scale else t
        if self.clip is not None:
            z = z.clamp(-self.clip, self.clip)  # NaN rows stay NaN (clamp keeps NaN)
        if self.drop_constant:
            return z.index_select(1, self.keep_index)
        return torch.where(self.keep, z, torch.zeros((), dtype=z.dtype, device=z.device))

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, out_dim={self.out_dim}, constant={self.n_constant}, "
                f"scale={self.scale}, drop_constant={self.drop_constant}, clip={self.clip}")


def _refresh_keep_index(module: TeacherStandardizer, incompatible_keys) -> None:
    module.keep_index = torch.nonzero(module.keep).flatten()
