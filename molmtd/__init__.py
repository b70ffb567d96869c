"""molmtd: task-agnostic multi-teacher distillation of molecular representations.

The public API. Heavy modules (torch, RDKit, teachers) load on first use so that
``import molmtd`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
import types
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
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'molmtd' has no attribute {name!r}")


class _Package(types.ModuleType):
    """The package module, keeping ``molmtd.distill`` the function, not its submodule.

    The import system binds every submodule to its package's attribute once it has loaded
    it (``setattr(molmtd, "distill", <module molmtd.distill>)``), which would replace the
    public function of the same name for every later ``from molmtd import distill``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__
                and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(__all__)
