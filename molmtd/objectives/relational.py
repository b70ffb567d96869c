"""Relational distillation terms: match the student's within-batch geometry to a teacher's.

The density loss makes each teacher *predictable* from the student; it never asks that two
molecules that are neighbours for a teacher be neighbours for the student, and a kNN probe
sees only that. These terms compare pairs of molecules inside a batch:

- ``"distance"``: relational KD's distance loss (Park et al. 2019, RKD-D). Pairwise
  Euclidean distances, each divided by the batch's mean distance, matched with a Huber
  loss. It is the term that speaks to kNN, which ranks by distance.
- ``"similarity"``: similarity-preserving KD (Tung & Mori 2019). The batch's Gram matrices,
  each row L2-normalised, matched by mean squared difference.

Written here because neither PyG nor Lightning ships a relational distillation loss
(torchdistill has them, but pulls a training framework we do not use). Both forms z-score
the student's columns over the batch first: the probes z-score every column before kNN or
a linear model sees it, so that is the geometry users get, and it stops the large
sum-pooled columns from setting every distance. Teachers arrive standardised already.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["RELATIONAL_FORMS", "relational_loss"]

RELATIONAL_FORMS = ("distance", "similarity")


def _zscore_columns(x: Tensor, eps: float = 1e-5) -> Tensor:
    centred = x - x.mean(dim=0)
    return centred / (centred.square().mean(dim=0) + eps).sqrt()


def _normalised_distances(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Upper-triangle pairwise distances divided by their mean (scale-free)."""
    d = torch.cdist(x, x)
    i, j = torch.triu_indices(x.shape[0], x.shape[0], offset=1, device=x.device)
    d = d[i, j]
    return d / (d.mean() + eps)


def relational_loss(student: Tensor, teacher: Tensor, ok: Tensor, form: str = "distance") -> Tensor:
    """How far the student's pairwise geometry is from one teacher's, over the valid rows.

    Args:
        student: the student's embedding of the batch (the readout its heads read).
        teacher: the teacher's standardised embedding of the same molecules.
        ok: rows the teacher could embed; the others are left out of every pair.
        form: ``"distance"`` (RKD distance loss) or ``"similarity"`` (similarity-preserving).

    Returns:
        A scalar >= 0 in float32; exactly 0 (still in the graph) when fewer than 3 rows
        are valid, where no pair structure is left to match.

    Shapes:
        student ``[B, D]``, teacher ``[B, d]``, ok bool ``[B]`` -> ``[]``.

    Raises:
        ValueError: an unknown ``form``.
    """
    if form not in RELATIONAL_FORMS:
        raise ValueError(f"relational form must be one of {RELATIONAL_FORMS}; got {form!r}")
    ok = ok.to(device=student.device, dtype=torch.bool)
    # boolean indexing syncs with the host; the trainer pays it once per step and teacher
    if int(ok.sum()) < 3:
        return student.float().sum() * 0.0
    s = _zscore_columns(student[ok].float())
    t = teacher[ok].to(device=student.device, dtype=torch.float32)
    if form == "distance":
        return F.smooth_l1_loss(_normalised_distances(s), _normalised_distances(t))
    gs = F.normalize(s @ s.T, dim=1)
    gt = F.normalize(t @ t.T, dim=1)
    return (gs - gt).square().mean()
