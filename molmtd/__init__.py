"""molmtd: task-agnostic multi-teacher distillation of molecular representations.

The public API. Heavy modules (torch, RDKit, teachers) load on first use so that
``import molmtd`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on attribute access)
_LAZY = {
    "MTDFeaturizer": "molmtd.featurizer",
    "load_featurizer": "molmtd.featurizer",
    "Recipe": "molmtd.recipe",
    "load_recipe": "molmtd.recipe",
    "distill": "molmtd.distill",
    "get_teacher": "molmtd.teachers",
    "list_teachers": "molmtd.teachers",
    "build_corpus": "molmtd.corpus",
    "read_molecules": "molmtd.corpus",
    "MTDRegressor": "molmtd.finetune",
    "MTDClassifier": "molmtd.finetune",
}

# Spelled out (not built from _LAZY) so that linters and type checkers see the
# re-exports of the TYPE_CHECKING imports below; keep it in step with _LAZY.
__all__ = [
    "__version__",
    "MTDFeaturizer",
    "load_featurizer",
    "Recipe",
    "load_recipe",
    "distill",
    "get_teacher",
    "list_teachers",
    "build_corpus",
    "read_molecules",
    "MTDRegressor",
    "MTDClassifier",
]

if TYPE_CHECKING:  # pragma: no cover
    from molmtd.corpus import build_corpus, read_molecules
    from molmtd.distill import distill
    from molmtd.featurizer import MTDFeaturizer, load_featurizer
    from molmtd.finetune import MTDClassifier, MTDRegressor
    from molmtd.recipe import Recipe, load_recipe
    from molmtd.teachers import get_teacher, list_teachers


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'molmtd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
