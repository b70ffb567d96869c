"""The distillation objectives: gaussian (the paper's density loss), l2 and cosine baselines."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from molmtd.errors import ShapeError
from molmtd.objectives.heads import GaussianMixtureHead, RegressionHead

__all__ = ["DistillObjective", "GaussianObjective", "L2Objective", "CosineObjective",
           "TeacherBatch"]

#: teacher label -> (standardised embeddings ``[B, d_k]``, valid-row mask bool ``[B]``)
TeacherBatch = dict[str, tuple[Tensor, Tensor]]


class DistillObjective(nn.Module):
    """Sum over teachers of a per-teacher loss computed by a head on the student embedding.

    ``total = loss_scale * sum_k w_k L_k`` where ``L_k`` is the mean of a per-row loss over
    the rows whose mask is True and ``w_k`` the teacher's weight (1 unless given). Rows
    whose mask is False (molecules the teacher could not embed) are replaced by zeros
    before the head sees them and their losses are selected away with ``torch.where``, so
    NaN, inf or garbage there never reaches the loss or the gradients (multiplying a NaN by
    0 would). A teacher with no valid row in the batch contributes exactly 0 while staying
    in the autograd graph (zero gradients, so data-parallel training finds every head
    parameter used). No device-to-host sync is needed.

    Subclasses set ``head_for(dim)`` and ``row_losses(label, s, t)``.

    Args:
        student_dim: student embedding width D.
        teacher_dims: teacher label -> dimension d_k of its (standardised) embedding.
        hidden_dim: head MLP hidden width.
        num_layers: head MLP depth.
        loss_scale: multiplies the total (the reference's c = 512 when ``L_k`` is per
            dimension, as for every objective here).
        teacher_weights: teacher label -> weight ``w_k`` > 0 of its loss in the total; the
            labels left out weigh 1. Every ``L_k`` is per dimension, so by default each
            teacher pulls equally whatever its width; a weight lets one teacher (say the
            strongest, which the student learns least) pull harder.

    Attributes:
        heads: ``nn.ModuleDict`` label -> head (the trainer gives them their own optimiser).

    Shapes:
        - student: ``[B, D]``; teachers: label -> (``[B, d_k]``, bool ``[B]``)
        - returns (total ``[]``, label -> unscaled ``L_k`` ``[]``)

    Raises:
        ValueError: bad sizes, labels, loss_scale or teacher_weights at construction; the
            batch's teachers
            differ from the heads' at call time.
        ShapeError: a tensor of the batch has the wrong shape.
    """

    def __init__(self, student_dim: int, teacher_dims: dict[str, int], *, hidden_dim: int = 512,
                 num_layers: int = 2, loss_scale: float = 1.0,
                 teacher_weights: dict[str, float] | None = None):
        super().__init__()
        name = type(self).__name__
        if not teacher_dims:
            raise ValueError(f"{name} needs at least one teacher; 'teacher_dims' is empty")
        for label in teacher_dims:
            if not isinstance(label, str) or not label or "." in label:
                raise ValueError(f"{name}: teacher label {label!r} must be a non-empty string "
                                 "without '.' (it names a submodule)")
        if not (isinstance(loss_scale, (int, float)) and math.isfinite(loss_scale)
                and loss_scale > 0):
            raise ValueError(f"The 'loss_scale' parameter of {name} must be a finite float > 0. "
                             f"Got {loss_scale!r} instead.")
        weights = dict(teacher_weights or {})
        unknown = sorted(set(weights) - set(teacher_dims))
        if unknown:
            raise ValueError(f"{name}: teacher_weights names {unknown}, which are not among the "
                             f"teachers {sorted(teacher_dims)}")
        bad = {k: w for k, w in weights.items()
               if not (isinstance(w, (int, float)) and math.isfinite(w) and w > 0)}
        if bad:
            raise ValueError(f"{name}: teacher_weights must be finite floats > 0. Got {bad}")
        self.teacher_weights = {label: float(weights.get(label, 1.0)) for label in teacher_dims}
        self.student_dim = int(student_dim)
        self.teacher_dims = {label: int(d) for label, d in teacher_dims.items()}
        self.hidden_dim = int(hidden_dim)
        self.num_layers = int(num_layers)
        self.loss_scale = float(loss_scale)
        self.heads = nn.ModuleDict({label: self.head_for(d) for label, d in teacher_dims.items()})

    def head_for(self, dim: int) -> nn.Module:
        """A new head from the student embedding to a teacher of dimension ``dim``."""
        raise NotImplementedError

    def row_losses(self, label: str, s: Tensor, t: Tensor) -> Tensor:
        """Per-row loss of teacher ``label`` (all rows finite).

        Shapes:
            s ``[B, D]``, t ``[B, d]`` -> ``[B]``.
        """
        raise NotImplementedError

    def forward(self, student: Tensor, teachers: TeacherBatch) -> tuple[Tensor, dict[str, Tensor]]:
        if set(teachers) != set(self.heads):
            raise ValueError(f"{type(self).__name__} has heads for teachers {sorted(self.heads)}"
                             f" but the batch holds {sorted(teachers)}; pass exactly those")
        if student.dim() != 2 or student.shape[1] != self.student_dim:
            raise ShapeError("student embedding", f"[B, {self.student_dim}]",
                             list(student.shape))
        B = student.shape[0]
        per_teacher: dict[str, Tensor] = {}
        for label in self.heads:  # the heads' order: deterministic across calls and ranks
            t, ok = teachers[label]
            d = self.teacher_dims[label]
            if t.shape != (B, d) or ok.shape != (B,):
                raise ShapeError(f"teacher {label!r} (embeddings, mask)", f"[{B}, {d}] and [{B}]",
                                 f"{list(t.shape)} and {list(ok.shape)}")
            ok = ok.to(device=student.device, dtype=torch.bool)
            t = t.to(device=student.device)
            clean = torch.where(ok.unsqueeze(1), t, torch.zeros((), dtype=t.dtype,
                                                                device=t.device))
            rows = self.row_losses(label, student, clean)
            rows = torch.where(ok, rows, torch.zeros((), dtype=rows.dtype, device=rows.device))
            per_teacher[label] = rows.sum() / ok.sum().clamp(min=1)
        total = self.loss_scale * torch.stack(
            [self.teacher_weights[label] * loss for label, loss in per_teacher.items()]).sum()
        return total, per_teacher

    def extra_repr(self) -> str:
        weighted = {k: w for k, w in self.teacher_weights.items() if w != 1.0}
        return (f"student_dim={self.student_dim}, loss_scale={self.loss_scale}"
                + (f", teacher_weights={weighted}" if weighted else ""))


class GaussianObjective(DistillObjective):
    """The paper's loss: NLL of each teacher under a conditional Gaussian mixture q_k(t|s).

    ``L_k`` = mean over valid rows of ``-log q_k(t_k | s) / d_k``: the negative
    log-likelihood per dimension, an upper bound on ``h(T_k | S) / d_k`` (nats).
    Minimising ``sum_k h(T_k | S)`` maximises ``sum_k I(S; T_k)``.

    Args:
        n_modes: mixture components M per head (the reference uses 1).
        min_log_scale: lower clamp of the heads' log standard deviations.
        max_log_scale: upper clamp of the heads' log standard deviations.
        student_dim, teacher_dims, hidden_dim, num_layers, loss_scale, teacher_weights: see
            :class:`DistillObjective`.
    """

    def __init__(self, student_dim: int, teacher_dims: dict[str, int], *, n_modes: int = 1,
                 hidden_dim: int = 512, num_layers: int = 2, loss_scale: float = 1.0,
                 min_log_scale: float = -7.0, max_log_scale: float = 5.0,
                 teacher_weights: dict[str, float] | None = None):
        # set before the base constructor, which builds the heads with ``head_for``
        self.n_modes = int(n_modes)
        self.min_log_scale, self.max_log_scale = float(min_log_scale), float(max_log_scale)
        super().__init__(student_dim, teacher_dims, hidden_dim=hidden_dim,
                         num_layers=num_layers, loss_scale=loss_scale,
                         teacher_weights=teacher_weights)

    def head_for(self, dim: int) -> GaussianMixtureHead:
        return GaussianMixtureHead(self.student_dim, dim, n_modes=self.n_modes,
                                   hidden_dim=self.hidden_dim, num_layers=self.num_layers,
                                   min_log_scale=self.min_log_scale,
                                   max_log_scale=self.max_log_scale)

    def conditional_nll(self, label: str, s: Tensor, t: Tensor) -> Tensor:
        """``-log q_k(t | s)`` per row for the whole vector, in nats (no masking).

        Shapes:
            s ``[B, D]``, t ``[B, d_k]`` -> ``[B]``.
        """
        return -self.heads[label].log_prob(s, t)

    def row_losses(self, label: str, s: Tensor, t: Tensor) -> Tensor:
        return self.conditional_nll(label, s, t) / self.teacher_dims[label]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_modes={self.n_modes}"


class L2Objective(DistillObjective):
    """Baseline: mean squared error of a regression head, averaged over dimensions.

    Args:
        n_modes: accepted and ignored, so one recipe section can build any objective.
        student_dim, teacher_dims, hidden_dim, num_layers, loss_scale, teacher_weights: see
            :class:`DistillObjective`.
    """

    def __init__(self, student_dim: int, teacher_dims: dict[str, int], *, n_modes: int = 1,
                 hidden_dim: int = 512, num_layers: int = 2, loss_scale: float = 1.0,
                 teacher_weights: dict[str, float] | None = None):
        super().__init__(student_dim, teacher_dims, hidden_dim=hidden_dim,
                         num_layers=num_layers, loss_scale=loss_scale,
                         teacher_weights=teacher_weights)

    def head_for(self, dim: int) -> RegressionHead:
        return RegressionHead(self.student_dim, dim, hidden_dim=self.hidden_dim,
                              num_layers=self.num_layers)

    def row_losses(self, label: str, s: Tensor, t: Tensor) -> Tensor:
        pred, t = _at_least_float32(self.heads[label](s), t)
        return (pred - t).square().mean(dim=1)


class CosineObjective(L2Objective):
    """Baseline: ``1 - cos(head(s), t)``, averaged over rows.

    The paper's "negative cosine similarity", shifted by 1 so that a perfect prediction
    scores 0; the gradients are the same.
    """

    def row_losses(self, label: str, s: Tensor, t: Tensor) -> Tensor:
        pred, t = _at_least_float32(self.heads[label](s), t)
        return 1.0 - F.cosine_similarity(pred, t, dim=1)


def _at_least_float32(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Losses in float32 (or float64 if given) even under bf16/fp16 autocast."""
    dtype = torch.promote_types(tensors[0].dtype, torch.float32)
    return tuple(x.to(dtype) for x in tensors)
