"""An ECFP teacher to wrap in the worker scripts' test teachers (same spec, version, output)."""

from __future__ import annotations

from molmtd.teachers.base import Teacher, get_teacher


class EcfpWrapper(Teacher):
    """Delegates spec, version, width and embedding to ECFP of ``size`` bits.

    A subclass changes only *how* it embeds (sleeping, logging, spinning), so a store or an
    embed run it writes is one that plain ECFP would continue.
    """

    def __init__(self, size: int):
        self.inner = get_teacher(f"ecfp:size={size}")

    @property
    def spec(self) -> str:
        return self.inner.spec

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, smiles):
        return self.inner.embed(smiles)
