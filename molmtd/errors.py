"""Exception classes shared across molmtd; each subclasses the built-in a caller expects."""

from __future__ import annotations

__all__ = [
    "MolmtdError",
    "InvalidMoleculeError",
    "TeacherSpecError",
    "TeacherUnavailableError",
    "StoreError",
    "RecipeError",
    "ShapeError",
]


class MolmtdError(Exception):
    """Base class of every error molmtd raises on purpose."""


class InvalidMoleculeError(MolmtdError, ValueError):
    """An input could not be turned into a molecule.

    Attributes:
        position: 0-based index of the input in the caller's sequence (or None).
        reason: why it was rejected, e.g. "unparseable SMILES".
    """

    def __init__(self, position: int | None, reason: str, raw: object = None):
        self.position = position
        self.reason = reason
        self.raw = raw
        where = f"input {position}" if position is not None else "input"
        shown = "" if raw is None else f" ({str(raw)[:80]!r})"
        super().__init__(f"{where}{shown}: {reason}")


class TeacherSpecError(MolmtdError, ValueError):
    """A teacher spec string names an unknown teacher or a bad parameter."""


class TeacherUnavailableError(MolmtdError, ImportError):
    """A teacher's back-end or weights are missing; the message says how to fix it."""


class StoreError(MolmtdError, RuntimeError):
    """An on-disk store is inconsistent (checksum, keys or spec mismatch)."""


class RecipeError(MolmtdError, ValueError):
    """A recipe field is missing or invalid; the message names the field and the fix."""


class ShapeError(MolmtdError, ValueError):
    """A tensor or array has the wrong shape; the message prints got and expected."""

    def __init__(self, what: str, expected: object, got: object):
        super().__init__(f"{what}: expected shape {expected}, got {got}")
        self.expected = expected
        self.got = got
