"""Distillation objectives: teacher standardisation, density heads, losses, MI diagnostic.

One concept per module: ``standardize`` (fixed-statistics z-scoring), ``mixture`` (the
diagonal Gaussian-mixture log-density), ``heads`` (per-teacher heads), ``losses`` (the
objectives), ``registry`` (objectives by name), ``marginal`` (p_k(t) and the MI estimate).
"""

from molmtd.objectives.heads import GaussianMixtureHead, MixtureParameters, RegressionHead
from molmtd.objectives.losses import (
    CosineObjective,
    DistillObjective,
    GaussianObjective,
    L2Objective,
    TeacherBatch,
)
from molmtd.objectives.marginal import MarginalDensity, MIEstimate, mutual_information_estimate
from molmtd.objectives.mixture import diagonal_mixture_log_prob
from molmtd.objectives.registry import (
    OBJECTIVES,
    build_objective,
    list_objectives,
    objective_options,
)
from molmtd.objectives.standardize import TeacherStandardizer

__all__ = [
    "TeacherStandardizer",
    "diagonal_mixture_log_prob",
    "GaussianMixtureHead",
    "MixtureParameters",
    "RegressionHead",
    "TeacherBatch",
    "DistillObjective",
    "GaussianObjective",
    "L2Objective",
    "CosineObjective",
    "OBJECTIVES",
    "build_objective",
    "list_objectives",
    "objective_options",
    "MarginalDensity",
    "MIEstimate",
    "mutual_information_estimate",
]
