"""A distilled molmtd featurizer used as a teacher ("molmtd:featurizer=runs/x/featurizer").

Lets `molmtd evaluate --against` compare distilled models with each other (e.g. the
gaussian student against an l2 or cosine one) and lets a student teach the next one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from molmtd.teachers.base import Teacher, TeacherOutput, register_teacher

__all__ = ["DistilledTeacher"]


@register_teacher("molmtd", "distilled")
class DistilledTeacher(Teacher):
    """A molmtd featurizer artifact, by path or released name.

    Args:
        featurizer: artifact folder or released name.
        readout: "embedding" or "layers" (see :class:`~molmtd.artifact.Artifact`).
        batch_size: molecules per forward pass.
        device: torch device.
        precision: "fp32" or "int8" (see :class:`~molmtd.artifact.Artifact`).
    """

    def __init__(self, featurizer: str, readout: str = "embedding", batch_size: int = 256,
                 device: str = "cpu", precision: str = "fp32"):
        self.featurizer = featurizer
        self.readout = readout
        self.batch_size = batch_size
        self.device = device
        self.precision = precision

    def _artifact(self):
        if not hasattr(self, "_loaded"):
            from molmtd.artifact import load_artifact

            self._loaded = load_artifact(self.featurizer, device=self.device,
                                         batch_size=self.batch_size, readout=self.readout,
                                         precision=self.precision)
        return self._loaded

    @property
    def dim(self) -> int:
        return self._artifact().dim

    @property
    def version(self) -> str:
        from molmtd.artifact import WEIGHTS

        weights = Path(self._artifact().directory) / WEIGHTS
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
        # int8 embeddings differ from fp32 ones: cached separately; so do the layer readouts
        # written before a jk="cat" student's "layers" followed its pooling
        # (2026-12-03-compression-residual-teacher-count)
        if self.readout == "layers":
            digest = f"{digest}-layers2"
        return digest if self.precision == "fp32" else f"{digest}-{self.precision}"

    def trained_on(self) -> frozenset[str]:
        """Whatever its teachers were trained on: their knowledge is what it distils."""
        from molmtd.errors import MolmtdError
        from molmtd.teachers.base import get_teacher

        tasks: set[str] = set()
        for spec in self._artifact().config.get("teachers", []):
            try:
                tasks |= get_teacher(spec).trained_on()
            except MolmtdError:  # a teacher this installation does not know: unknown tasks
                continue
        return frozenset(tasks)

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        return self._artifact().embed(smiles)
