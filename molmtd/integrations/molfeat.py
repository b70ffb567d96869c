"""molfeat adapter: a distilled molmtd featurizer as a molfeat ``PretrainedMolTransformer``.

Registered as a molfeat plugin (entry point group ``molfeat.trans.pretrained``, name
``molmtd``), so after ``molfeat.plugins.load_registered_plugins()`` it is importable as
``from molfeat.trans.pretrained import MTDMoleculeTransformer``. It follows molfeat's
conventions: ``transform`` raises on a bad molecule unless ``ignore_errors=True`` (then
its entry is None), and ``__call__(..., ignore_errors=True)`` returns ``(features, ids)``
of the molecules that worked.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from molfeat.trans.pretrained.base import PretrainedMolTransformer
from molfeat.utils import datatype

from molmtd.errors import InvalidMoleculeError
from molmtd.featurizer import FEATURE_PREFIX, MTDFeaturizer, as_molecule_list

__all__ = ["MTDMoleculeTransformer"]


class MTDMoleculeTransformer(PretrainedMolTransformer):
    """molfeat transformer over a molmtd featurizer artifact.

    Args:
        kind: featurizer artifact path or released name (molfeat's name for "which model").
        batch_size: molecules per forward pass.
        device: torch device.
        dtype: output type for ``__call__`` (molfeat convention); default float32 numpy.
        n_jobs: kept for molfeat compatibility; the model batches itself.
        **params: passed on to :class:`molfeat.trans.pretrained.PretrainedMolTransformer`.

    Shapes:
        transform: ``[n]`` molecules -> ``[n, dim]``.
    """

    def __init__(self, kind: str = "molmtd-base", batch_size: int = 256, device: str = "cpu",
                 dtype=np.float32, n_jobs: int = 1, **params):
        super().__init__(dtype=dtype, kind=str(kind), batch_size=batch_size, device=device,
                         n_jobs=n_jobs, **params)
        self._require_mols = False

    def _mtd(self) -> MTDFeaturizer:
        cached = getattr(self, "_mtd_cache", None)
        if cached is None:
            cached = MTDFeaturizer(self.kind, batch_size=self.batch_size, device=self.device,
                                   on_error="nan")
            self._mtd_cache = cached
        return cached

    def _update_params(self):
        super()._update_params()
        self.__dict__.pop("_mtd_cache", None)  # rebuilt with the new parameters on next use

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_mtd_cache", None)
        return state

    def _embed(self, smiles, **kwargs):
        """Embeddings of a batch, None where a molecule failed (molfeat's convention)."""
        out = self._mtd().embed(smiles)
        return [row if ok else None for row, ok in zip(out.embeddings, out.ok, strict=True)]

    def transform(self, mols, ignore_errors: bool = False, **kwargs):
        """Embed molecules (SMILES, RDKit Mols, or a DataFrame whose first column holds them).

        Returns:
            an array ``[n, dim]``; with ``ignore_errors=True`` failed entries are None.

        Raises:
            InvalidMoleculeError: a molecule failed and ``ignore_errors`` is False.
        """
        if hasattr(mols, "columns") and hasattr(mols, "iloc"):
            mols = mols.iloc[:, 0]
        if isinstance(mols, str) or not isinstance(mols, Iterable):
            mols = [mols]
        items = as_molecule_list(mols)
        out = self._mtd().embed(items)
        if out.reasons and not ignore_errors:
            first = min(out.reasons)
            raw = items[first] if isinstance(items[first], str) else None
            raise InvalidMoleculeError(first, out.reasons[first] + " (pass ignore_errors=True "
                                       "to skip failed molecules)", raw)
        if not out.reasons:
            return datatype.as_numpy_array_if_possible(out.embeddings, self.dtype)
        return [row if ok else None for row, ok in zip(out.embeddings, out.ok, strict=True)]

    def __len__(self) -> int:
        return self._mtd().dim

    @property
    def columns(self) -> list[str]:
        """Feature names ``mtd_0 ... mtd_{dim-1}`` (used for DataFrame outputs)."""
        return [f"{FEATURE_PREFIX}_{i}" for i in range(len(self))]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(kind={self.kind!r}, batch_size={self.batch_size}, "
                f"device={self.device!r})")
