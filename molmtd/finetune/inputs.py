"""Molecules -> what the fine-tuning network reads: graphs plus optional extra features.

``prepare_molecules`` standardises the inputs the way the featurizer artifact was
distilled (its ``standardize`` options), builds their graphs once, and computes any extra
molecule-level features (teacher specs such as ``"ecfp-count"`` or ``"physchem"``). Every
epoch then collates batches straight from those arrays, so RDKit runs once per molecule
per ``fit``, not once per epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Prepared", "prepare_molecules"]

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Graphs and extra features of the valid inputs, with a report of the others.

    Attributes:
        n: number of inputs.
        valid: int64 ``[m]``, input positions of the molecules that have a graph (and
            finite extra features), in input order.
        keys: standardised SMILES of the valid molecules (``[m]``).
        xs, edges, attrs: per valid molecule, its atom features, local edge index and bond
            features (what :func:`molmtd.graphs._collate` batches).
        extra: float32 ``[m, d_extra]`` extra features (``d_extra`` may be 0).
        reasons: input position -> why it was left out.
    """

    n: int
    valid: np.ndarray
    keys: list[str]
    xs: list[np.ndarray]
    edges: list[np.ndarray]
    attrs: list[np.ndarray]
    extra: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)

    def batch(self, rows: Sequence[int]):
        """A torch_geometric ``Batch`` of the valid molecules at ``rows`` (indices into valid)."""
        from molmtd.graphs import _collate

        return _collate([self.xs[i] for i in rows], [self.edges[i] for i in rows],
                        [self.attrs[i] for i in rows])

    def subset(self, rows: np.ndarray) -> Prepared:
        """The valid molecules at ``rows`` as their own ``Prepared`` (positions kept)."""
        rows = np.asarray(rows, dtype=np.int64)
        return Prepared(self.n, self.valid[rows], [self.keys[i] for i in rows],
                        [self.xs[i] for i in rows], [self.edges[i] for i in rows],
                        [self.attrs[i] for i in rows], self.extra[rows], dict(self.reasons))


def _extra_features(keys: list[str], specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray,
                                                                      dict[int, str]]:
    """Extra features of standardised molecules from teacher specs, side by side."""
    from molmtd.teachers import get_teacher

    ok = np.ones(len(keys), dtype=bool)
    reasons: dict[int, str] = {}
    blocks = []
    for spec in specs:
        out = get_teacher(spec).embed(keys)
        for j, reason in out.reasons.items():
            reasons.setdefault(int(j), f"extra feature {spec!r}: {reason}")
        ok &= out.ok
        blocks.append(np.asarray(out.embeddings, dtype=np.float32))
    extra = (np.concatenate(blocks, axis=1) if blocks
             else np.zeros((len(keys), 0), dtype=np.float32))
    bad = ~np.isfinite(extra).all(axis=1) & ok
    for j in np.flatnonzero(bad):
        reasons.setdefault(int(j), "extra features are not finite")
    ok &= ~bad
    return extra, ok, reasons


def prepare_molecules(items: Sequence, standardize: dict, extra_features: Sequence[str] = (),
                      n_jobs: int = 1) -> Prepared:
    """Standardise, featurise and (optionally) compute extra features; never raises per molecule.

    Args:
        items: SMILES strings or RDKit Mols (see :func:`molmtd.featurizer.as_molecule_list`).
        standardize: the artifact's standardisation options.
        extra_features: teacher specs whose embeddings join the readout.
        n_jobs: processes for standardisation (-1 = all cores).

    Returns:
        a :class:`Prepared`; invalid inputs appear only in its ``reasons``.
    """
    from molmtd.featurizer import _to_smiles
    from molmtd.graphs import _featurize
    from molmtd.molecules import standardize_many

    items = list(items)
    smiles, reasons = _to_smiles(items)
    given = [i for i, s in enumerate(smiles) if s is not None]
    keys, bad = standardize_many([smiles[i] for i in given], n_jobs=n_jobs, **standardize)
    for j, reason in bad.items():
        reasons[given[j]] = reason
    positions = np.asarray([given[j] for j, k in enumerate(keys) if k is not None],
                           dtype=np.int64)
    keys = [k for k in keys if k is not None]
    block = _featurize(keys, 1)
    for j, reason in block.failures.items():
        reasons[int(positions[j])] = reason
    atom_ptr = np.concatenate([[0], np.cumsum(block.num_atoms)])
    edge_ptr = np.concatenate([[0], np.cumsum(block.num_edges)])
    graph_ok = block.ok
    keep = np.flatnonzero(graph_ok)
    kept_keys = [keys[j] for j in keep]
    extra, extra_ok, extra_reasons = _extra_features(kept_keys, list(extra_features))
    for j, reason in extra_reasons.items():
        reasons[int(positions[keep[j]])] = reason
    keep, extra = keep[extra_ok], extra[extra_ok]
    xs, edges, attrs = [], [], []
    for j in keep:
        a0, a1, e0, e1 = atom_ptr[j], atom_ptr[j + 1], edge_ptr[j], edge_ptr[j + 1]
        xs.append(block.x[a0:a1])
        edges.append(block.edge_index[:, e0:e1])
        attrs.append(block.edge_attr[e0:e1])
    return Prepared(len(items), positions[keep], [keys[j] for j in keep], xs, edges, attrs,
                    extra, dict(sorted(reasons.items())))
