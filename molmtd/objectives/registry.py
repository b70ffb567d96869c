"""Objectives chosen by name: the registry, its listing and the builder."""

from __future__ import annotations

import inspect

from molmtd.objectives.losses import (
    CosineObjective,
    DistillObjective,
    GaussianObjective,
    L2Objective,
)

__all__ = ["OBJECTIVES", "build_objective", "list_objectives", "objective_options"]

#: name -> objective class; "gaussian" is the paper's loss and the default.
OBJECTIVES: dict[str, type[DistillObjective]] = {
    "gaussian": GaussianObjective,
    "l2": L2Objective,
    "cosine": CosineObjective,
}


def list_objectives() -> list[str]:
    """Names accepted by :func:`build_objective`, sorted."""
    return sorted(OBJECTIVES)


def _get(name: str, caller: str) -> type[DistillObjective]:
    if name not in OBJECTIVES:
        raise ValueError(f"The 'name' parameter of {caller} must be one of "
                         f"{list_objectives()}. Got {name!r} instead.")
    return OBJECTIVES[name]


def objective_options(name: str) -> list[str]:
    """Keyword options the objective ``name`` accepts (besides the two dimensions).

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    params = inspect.signature(_get(name, "objective_options")).parameters
    return [p.name for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]


def build_objective(name: str, student_dim: int, teacher_dims: dict[str, int],
                    **options) -> DistillObjective:
    """Build an objective by name.

    Args:
        name: one of :func:`list_objectives` ("gaussian", "l2", "cosine").
        student_dim: student embedding width D.
        teacher_dims: teacher label -> dimension of its standardised embedding.
        **options: the objective's keyword options, see :func:`objective_options`
            (``hidden_dim``, ``num_layers``, ``loss_scale``, ``n_modes``, ...).

    Returns:
        The objective module; its ``heads`` attribute holds the per-teacher heads.

    Raises:
        ValueError: unknown name (the message lists the choices) or invalid option value.
        TypeError: an option the objective does not accept (the message lists them).
    """
    cls = _get(name, "build_objective")
    accepted = objective_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"build_objective({name!r}) got unknown option(s) {unknown}; "
                        f"accepted: {accepted}")
    return cls(student_dim, teacher_dims, **options)
