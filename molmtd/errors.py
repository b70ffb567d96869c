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
    "DiskFullError",
    "NonFiniteLossError",
    "ArtifactError",
    "UntrustedFileError",
    "InputFileError",
    "OutputExistsError",
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


class DiskFullError(MolmtdError, OSError):
    """The file system filled up while molmtd was writing; nothing half-written was kept."""


class NonFiniteLossError(MolmtdError, FloatingPointError):
    """Training produced a NaN or infinite loss; the run stopped before updating weights.

    Attributes:
        step: the optimisation step (batch) at which it happened.
        teachers: labels of the teachers whose losses were not finite.
    """

    def __init__(self, message: str, step: int, teachers: list[str]):
        super().__init__(message)
        self.step = step
        self.teachers = teachers


class ArtifactError(MolmtdError, ValueError):
    """A featurizer artifact cannot be loaded (format, version skew, unreadable weights)."""


class UntrustedFileError(MolmtdError, PermissionError):
    """Loading a file would run code from it (a pickle); the message names the opt-in."""


class InputFileError(MolmtdError, ValueError):
    """A molecule file cannot be read to its end (truncated gzip, missing column, ...)."""


class OutputExistsError(MolmtdError, FileExistsError):
    """An output holds earlier or foreign results; the message names --resume/--overwrite."""
