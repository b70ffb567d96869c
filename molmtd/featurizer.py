"""MTDFeaturizer: a scikit-learn transformer from molecules to distilled embeddings.

``MTDFeaturizer("runs/quickstart/featurizer")`` turns SMILES strings, RDKit molecules, a
pandas Series or a one-column DataFrame into a float32 matrix ``[n_molecules, dim]`` whose
rows stay aligned with the inputs. It is stateless (``fit`` only checks its parameters),
clones and pickles like any scikit-learn estimator, and loads the model on first use.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions

from molmtd.errors import InvalidMoleculeError
from molmtd.teachers.base import TeacherOutput

__all__ = ["MTDFeaturizer", "load_featurizer", "as_molecule_list", "FEATURE_PREFIX"]

log = logging.getLogger(__name__)

FEATURE_PREFIX = "mtd"
_SHOWN_FAILURES = 10


def as_molecule_list(X: Any) -> list:
    """Flatten the accepted input containers into a list of molecules (one per row).

    Accepts a list/tuple of SMILES or RDKit Mols, a pandas Series, a one-column pandas
    DataFrame, or a 1-D (or one-column 2-D) numpy array.

    Raises:
        ValueError: a DataFrame or array with more than one column, or a single SMILES
            string / Mol instead of a sequence of them.
    """
    from rdkit import Chem

    if isinstance(X, (str, bytes, Chem.Mol)):
        raise ValueError(
            "MTDFeaturizer expects a sequence of molecules (one per row), got a single "
            f"{type(X).__name__}; wrap it in a list: [{str(X)[:40]!r}]")
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # pandas (or pandas-like) DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                f"MTDFeaturizer expects one column of SMILES or Mols, got a DataFrame with "
                f"{X.shape[1]} columns {list(X.columns)[:5]}; select the SMILES column, e.g. "
                "ColumnTransformer([('mtd', MTDFeaturizer(...), ['smiles'])])")
        return X.iloc[:, 0].tolist()
    if hasattr(X, "tolist") and hasattr(X, "index") and hasattr(X, "dtype"):  # Series
        return X.tolist()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(f"MTDFeaturizer expects a 1-D array of molecules or one column, "
                             f"got an array of shape {X.shape}")
        return X.tolist()
    try:
        return list(X)
    except TypeError as err:
        raise ValueError(f"MTDFeaturizer expects a sequence of SMILES strings or RDKit Mols, "
                         f"got {type(X).__name__}") from err


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, float) and math.isnan(x):
        return True
    return type(x).__name__ in ("NAType", "NaTType")  # pandas missing markers


def _to_smiles(items: Sequence) -> tuple[list[str | None], dict[int, str]]:
    """SMILES for every item (Mols are written out), or a reason where it is not a molecule."""
    from rdkit import Chem

    out: list[str | None] = []
    reasons: dict[int, str] = {}
    for i, x in enumerate(items):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, Chem.Mol):
            out.append(Chem.MolToSmiles(x))
        else:
            out.append(None)
            reasons[i] = ("empty input" if _is_missing(x) else
                          f"expected a SMILES string or RDKit Mol, got {type(x).__name__}")
    return out, reasons


def _describe_failures(reasons: dict[int, str], raw: Sequence) -> str:
    parts = []
    for pos in sorted(reasons)[:_SHOWN_FAILURES]:
        shown = raw[pos] if isinstance(raw[pos], str) else None
        where = f"input {pos}" + ("" if shown is None else f" ({shown[:60]!r})")
        parts.append(f"{where}: {reasons[pos]}")
    more = len(reasons) - _SHOWN_FAILURES
    return "; ".join(parts) + (f"; ... and {more} more" if more > 0 else "")


class MTDFeaturizer(TransformerMixin, BaseEstimator):
    """Embed molecules with a distilled molmtd featurizer (scikit-learn transformer).

    Args:
        featurizer: path of a featurizer artifact (a folder with ``config.json``) or the
            name of a released featurizer.
        batch_size: molecules per forward pass.
        device: torch device, e.g. "cpu" or "cuda".
        n_jobs: processes for standardisation and graph building (-1 = all cores, where
            there are more than two, or with ``precision="int8"``; on two at fp32, one
            process is faster); they start only for inputs of a few thousand molecules or
            more.
        readout: "auto" (the readout the featurizer's release recommends, from its
            evaluation; "embedding" when it names none), "embedding" (the distilled
            embedding) or "layers" (every GNN layer's pooled states, concatenated, before the
            projection: for molmtd-base the 3000-d mean+sum readout its heads read and its
            PCA compresses; wider; see docs/EXPERIMENTS.md).
        on_error: "raise" stops at the first molecule that cannot be embedded
            (:class:`~molmtd.errors.InvalidMoleculeError` naming its position and the
            reason); "nan" gives it a row of NaN and warns with every position.
        precision: "fp32" (exact), or "int8": on the CPU, the student's message-passing
            MLPs run with dynamic int8 quantisation (:mod:`molmtd.quantization`), faster,
            with embeddings close to the fp32 ones but not equal (the README's
            performance table gives both figures for molmtd-base).

    Attributes:
        n_features_in_: 1 (one column of molecules).
        feature_names_in_: the column name when fitted on a one-column DataFrame.
        featurizer_path_: the resolved artifact folder.

    Shapes:
        transform: ``[n]`` molecules -> float32 ``[n, dim]``.

    Example:
        >>> pipe = make_pipeline(MTDFeaturizer("runs/quickstart/featurizer"), RidgeCV())
        >>> pipe.fit(train_smiles, y).predict(test_smiles)
    """

    _parameter_constraints: dict = {
        "featurizer": [str, os.PathLike],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "n_jobs": [Options(Integral, {-1}), Interval(Integral, 1, None, closed="left")],
        "readout": [StrOptions({"auto", "embedding", "layers"})],
        "on_error": [StrOptions({"raise", "nan"})],
        "precision": [StrOptions({"fp32", "int8"})],
    }

    def __init__(self, featurizer: str | os.PathLike = "molmtd-base", batch_size: int = 256,
                 device: str = "cpu", n_jobs: int = 1, readout: str = "auto",
                 on_error: str = "raise", precision: str = "fp32"):
        self.featurizer = featurizer
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs
        self.readout = readout
        self.on_error = on_error
        self.precision = precision

    # -- model cache (private, never pickled) -------------------------------------------
    def _model(self):
        """The loaded artifact, cached per featurizer, device and precision; never pickled."""
        from molmtd.artifact import find_artifact, load_artifact

        path = find_artifact(self.featurizer)
        key = (str(Path(path).resolve()), str(self.device), self.precision)
        cached = getattr(self, "_artifact_cache", None)
        if cached is None or cached[0] != key:
            log.debug("loading featurizer %s on %s (%s)", path, self.device, self.precision)
            cached = (key, load_artifact(path, device=self.device, batch_size=self.batch_size,
                                         precision=self.precision))
            self._artifact_cache = cached
        cached[1].batch_size = self.batch_size
        cached[1].readout = self.readout  # cheap to switch: same weights
        return cached[1]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_artifact_cache", None)
        return state

    # -- scikit-learn API ---------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> MTDFeaturizer:
        """Check the parameters and the input container; loads no model.

        Args:
            X: molecules (see :meth:`transform`).
            y: ignored.

        Returns:
            self

        Raises:
            FileNotFoundError: ``featurizer`` is neither an artifact folder nor a released name.
            ValueError: a parameter or the input container is invalid.
        """
        from molmtd.artifact import find_artifact

        as_molecule_list(X)
        self.featurizer_path_ = str(find_artifact(self.featurizer))
        self.n_features_in_ = 1
        columns = getattr(X, "columns", None)
        if columns is not None and isinstance(columns[0], str):
            self.feature_names_in_ = np.asarray(list(columns), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def embed(self, X: Any) -> TeacherOutput:
        """Embeddings with a per-position report; never raises for a bad molecule.

        Returns:
            ``TeacherOutput(embeddings float32 [n, dim] (NaN rows where not ok), ok [n],
            reasons {position: reason})``.
        """
        self._validate_params()
        items = as_molecule_list(X)
        smiles, reasons = _to_smiles(items)
        model = self._model()
        n, dim = len(items), model.dim
        emb = np.full((n, dim), np.nan, dtype=np.float32)
        ok = np.zeros(n, dtype=bool)
        positions = [i for i, s in enumerate(smiles) if s is not None]
        if positions:
            out = model.embed([smiles[i] for i in positions], n_jobs=self.n_jobs)
            emb[positions] = out.embeddings
            ok[positions] = out.ok
            for j, reason in out.reasons.items():
                reasons[positions[j]] = reason
        for i in np.flatnonzero(~ok):  # the artifact reports every failure; keep a fallback
            reasons.setdefault(int(i), "could not be embedded")
        return TeacherOutput(emb, ok, dict(sorted(reasons.items())))

    def transform(self, X: Any) -> np.ndarray:
        """Embed molecules.

        Args:
            X: list/tuple/array of SMILES strings or RDKit Mols, a pandas Series, or a
                one-column DataFrame.

        Returns:
            float32 array ``[n, dim]``, row i for input i.

        Raises:
            InvalidMoleculeError: with ``on_error="raise"``, for the first input that
                cannot be embedded (its position and the reason).
            ValueError: the input container is not one column of molecules.
        """
        out = self.embed(X)
        if out.reasons:
            first = min(out.reasons)
            if self.on_error == "raise":
                items = as_molecule_list(X)
                raw = items[first] if isinstance(items[first], str) else None
                raise InvalidMoleculeError(first, out.reasons[first] + " (pass on_error='nan' "
                                           "to get NaN rows instead)", raw)
            message = (f"MTDFeaturizer: {len(out.reasons)} of {len(out.ok)} molecules could not "
                       f"be embedded; their rows are NaN: "
                       f"{_describe_failures(out.reasons, as_molecule_list(X))}")
            log.debug(message)
            warnings.warn(message, UserWarning, stacklevel=2)
        return out.embeddings

    @property
    def dim(self) -> int:
        """Embedding dimension (loads the model)."""
        return self._model().dim

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names ``mtd_0 ... mtd_{dim-1}`` (used by ``set_output``)."""
        return np.asarray([f"{FEATURE_PREFIX}_{i}" for i in range(self.dim)], dtype=object)

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless: transform works without fit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.no_validation = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags


def load_featurizer(featurizer: str | os.PathLike, *, batch_size: int = 256,
                    device: str = "cpu", n_jobs: int = 1, readout: str = "auto",
                    on_error: str = "raise", precision: str = "fp32") -> MTDFeaturizer:
    """An :class:`MTDFeaturizer` with its model loaded now (errors surface here, not later).

    Raises:
        FileNotFoundError: unknown featurizer path or name.
    """
    feat = MTDFeaturizer(featurizer, batch_size=batch_size, device=device, n_jobs=n_jobs,
                         readout=readout, on_error=on_error, precision=precision)
    feat._validate_params()
    feat._model()
    return feat
