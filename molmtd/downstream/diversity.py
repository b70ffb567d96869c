"""Diverse-subset picking with RDKit's MaxMin algorithm, on embeddings or fingerprints."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["maxmin_pick"]


def maxmin_pick(n_pick: int, X: np.ndarray | None = None, *, fingerprints: Sequence | None = None,
                seed: int = 0, first_picks: Sequence[int] = ()) -> np.ndarray:
    """Pick ``n_pick`` mutually distant molecules (RDKit ``MaxMinPicker``).

    Give either embeddings ``X`` ``[n, d]`` (Euclidean distance, computed lazily) or RDKit
    bit-vector ``fingerprints`` (Tanimoto distance, e.g. from
    :func:`~molmtd.downstream.clustering.ecfp_fingerprints`).

    Args:
        n_pick: how many to pick.
        X: embeddings ``[n, d]`` without NaN rows (Euclidean distance).
        fingerprints: RDKit bit vectors, one per molecule (Tanimoto distance).
        seed: seed of the first pick (RDKit's random start).
        first_picks: indices that must be in the subset (e.g. compounds already made).

    Returns:
        indices ``[n_pick]`` into the pool, in pick order.

    Raises:
        ValueError: neither or both inputs, NaN rows in X, or n_pick out of range.
    """
    from rdkit.SimDivFilters.rdSimDivPickers import MaxMinPicker

    if (X is None) == (fingerprints is None):
        raise ValueError("give exactly one of X (embeddings) or fingerprints")
    n = len(X) if X is not None else len(fingerprints)
    if not 1 <= n_pick <= n:
        raise ValueError(f"n_pick must be between 1 and the pool size {n}, got {n_pick}")
    picker = MaxMinPicker()
    if fingerprints is not None:
        picks = picker.LazyBitVectorPick(list(fingerprints), n, n_pick,
                                         firstPicks=list(first_picks), seed=seed)
        return np.asarray(list(picks), dtype=np.int64)
    X = np.asarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN/inf rows; drop molecules that could not be embedded")

    def distance(i: int, j: int) -> float:
        return float(np.linalg.norm(X[i] - X[j]))

    picks = picker.LazyPick(distance, n, n_pick, firstPicks=list(first_picks), seed=seed)
    return np.asarray(list(picks), dtype=np.int64)
