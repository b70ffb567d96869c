"""deepchem adapter: a distilled molmtd featurizer as a ``dc.feat.MolecularFeaturizer``.

``MTDDeepChemFeaturizer("runs/quickstart/featurizer").featurize(smiles)`` returns a float32
array ``[n, dim]`` ready for ``dc.data.NumpyDataset``, computed in batches (deepchem's base
class featurizes one molecule at a time). A molecule that fails is handled the deepchem way
by default (``on_error="empty"``: an empty array in its place and a warning naming the
datapoint, which deepchem's loaders such as ``CSVLoader`` use to drop it and its label);
``"nan"`` gives a NaN row instead (a plain float array), ``"raise"`` stops at the first one.
"""

from __future__ import annotations

import logging

import numpy as np

try:
    from deepchem.feat import MolecularFeaturizer
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the deepchem adapter needs deepchem: pip install 'molmtd[deepchem]'") from err

from molmtd.errors import InvalidMoleculeError
from molmtd.featurizer import MTDFeaturizer, as_molecule_list

__all__ = ["MTDDeepChemFeaturizer"]

log = logging.getLogger(__name__)

_ON_ERROR = ("empty", "nan", "raise")


class MTDDeepChemFeaturizer(MolecularFeaturizer):
    """deepchem featurizer over a molmtd featurizer artifact (batched, not per molecule).

    Args:
        featurizer: featurizer artifact path or released name.
        batch_size: molecules per forward pass.
        device: torch device.
        on_error: what a molecule that cannot be embedded gets: "empty" (deepchem's
            convention: an empty array, so the result becomes an object array), "nan" (a
            row of NaN), or "raise" (:class:`~molmtd.errors.InvalidMoleculeError` for the
            first one). "empty" and "nan" log a warning per failed datapoint.

    Shapes:
        featurize: ``[n]`` SMILES or RDKit Mols -> float32 ``[n, dim]``.
    """

    def __init__(self, featurizer: str = "molmtd-base", batch_size: int = 256,
                 device: str = "cpu", on_error: str = "empty"):
        super().__init__()
        self.featurizer = str(featurizer)
        self.batch_size = batch_size
        self.device = device
        self.on_error = on_error

    def _mtd(self) -> MTDFeaturizer:
        if self.on_error not in _ON_ERROR:
            raise ValueError(f"The 'on_error' parameter of {type(self).__name__} must be one of "
                             f"{_ON_ERROR}. Got {self.on_error!r} instead.")
        key = (self.featurizer, self.batch_size, self.device)
        cached = self.__dict__.get("_mtd_cache")
        if cached is None or cached[0] != key:
            cached = (key, MTDFeaturizer(self.featurizer, batch_size=self.batch_size,
                                         device=self.device, on_error="nan"))
            self._mtd_cache = cached
        return cached[1]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_mtd_cache", None)
        return state

    def featurize(self, datapoints, log_every_n: int = 1000, **kwargs) -> np.ndarray:
        """Embed a batch of molecules (a single SMILES or Mol is treated as a batch of one).

        Returns:
            float32 array ``[n, dim]`` when every molecule worked; otherwise, with
            on_error="empty", an object array ``[n]`` holding an empty array at each failed
            position, and with on_error="nan", NaN rows there.

        Raises:
            InvalidMoleculeError: with on_error="raise", for the first failed molecule.
        """
        from rdkit import Chem

        if isinstance(datapoints, (str, Chem.Mol)):
            datapoints = [datapoints]
        items = as_molecule_list(datapoints)
        out = self._mtd().embed(items)
        filler = "a NaN row" if self.on_error == "nan" else "an empty array"
        for pos in sorted(out.reasons):
            raw = items[pos] if isinstance(items[pos], str) else None
            if self.on_error == "raise":
                raise InvalidMoleculeError(pos, out.reasons[pos], raw)
            log.warning("Failed to featurize datapoint %d, %s: %s. Appending %s",
                        pos, raw, out.reasons[pos], filler)
        if not out.reasons or self.on_error == "nan":
            return out.embeddings
        result = np.empty(len(items), dtype=object)
        for i, (row, ok) in enumerate(zip(out.embeddings, out.ok, strict=True)):
            result[i] = row if ok else np.array([])
        return result

    def _featurize(self, datapoint, **kwargs) -> np.ndarray:
        """One molecule (deepchem's per-datapoint hook); raises if it cannot be embedded."""
        out = self._mtd().embed([datapoint])
        if not out.ok[0]:
            raise InvalidMoleculeError(None, out.reasons.get(0, "could not be embedded"))
        return out.embeddings[0]
