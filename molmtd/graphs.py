"""Molecule -> torch_geometric ``Data`` with categorical features, and an on-disk store of many.

Every feature is a small integer index into a fixed vocabulary, so the student embeds
features with table lookups (no one-hot, no per-edge Linear). Non-boolean features have
one extra last index, "other", for values outside the vocabulary.

The mapping is written here instead of calling ``torch_geometric.utils.from_rdmol``,
whose vocabularies (``x_map``/``e_map``) it otherwise follows: from_rdmol has no bond
in-ring flag and no "other" bucket (``list.index`` raises on an unseen value, e.g. a
degree above 10), and it was measured 2x slower on MOSES (it maps enums through their
names with ``list.index``).
Molecules are featurised in blocks, so the RDKit calls stay in one Python loop and the
vocabulary mapping is one vectorised numpy step per block.

:class:`GraphStore` keeps a whole corpus as concatenated, memory-mapped numpy arrays on
disk; ``store[i]`` (or ``store.batch(indices)``) slices them on demand.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from molmtd.errors import InvalidMoleculeError, StoreError
from molmtd.safeio import atomic_write, directory_lock, remove_stale_temporaries
from molmtd.store import _file_matches, _sha256_file, keys_sha256

__all__ = [
    "FEATURE_SCHEMA_VERSION",
    "feature_schema",
    "ATOM_FEATURE_NAMES",
    "ATOM_FEATURE_DIMS",
    "BOND_FEATURE_NAMES",
    "BOND_FEATURE_DIMS",
    "smiles_to_graph",
    "graphs_from_smiles",
    "graph_batches_from_smiles",
    "GraphStore",
]

log = logging.getLogger(__name__)

#: Bumped whenever a vocabulary or feature changes; stores and artifacts record it.
FEATURE_SCHEMA_VERSION = 1

# Vocabularies: the value at position k gets index k; a value not listed gets index
# len(vocabulary) ("other"). RDKit enums are listed by name (their integer values moved
# between RDKit releases, e.g. SP2D was inserted into HybridizationType).
_ATOM_VOCAB: dict[str, tuple] = {
    "atomic_num": tuple(range(119)),  # 0 = dummy atom "*", then H (1) .. Og (118)
    "chirality": ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW", "CHI_OTHER"),
    "degree": tuple(range(7)),  # heavy-atom neighbours (Atom.GetDegree)
    "formal_charge": tuple(range(-3, 4)),
    "num_hs": tuple(range(5)),  # Atom.GetTotalNumHs
    "num_radical_electrons": (0, 1, 2),
    "hybridization": ("UNSPECIFIED", "S", "SP", "SP2", "SP3", "SP3D", "SP3D2"),
    "is_aromatic": (False, True),
    "is_in_ring": (False, True),
}
_BOND_VOCAB: dict[str, tuple] = {
    "bond_type": ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC"),
    "stereo": ("STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS"),
    "is_conjugated": (False, True),
    "is_in_ring": (False, True),
}
# which RDKit enum each named vocabulary indexes
_ENUMS = {"chirality": "ChiralType", "hybridization": "HybridizationType",
          "bond_type": "BondType", "stereo": "BondStereo"}


def _dim(vocab: tuple) -> int:
    return 2 if vocab == (False, True) else len(vocab) + 1


ATOM_FEATURE_NAMES: list[str] = list(_ATOM_VOCAB)
ATOM_FEATURE_DIMS: list[int] = [_dim(v) for v in _ATOM_VOCAB.values()]
BOND_FEATURE_NAMES: list[str] = list(_BOND_VOCAB)
BOND_FEATURE_DIMS: list[int] = [_dim(v) for v in _BOND_VOCAB.values()]


def feature_schema() -> dict:
    """The feature layout a store or an artifact must match to be read by this code."""
    return {"version": FEATURE_SCHEMA_VERSION,
            "atom_features": ATOM_FEATURE_NAMES, "atom_feature_dims": ATOM_FEATURE_DIMS,
            "bond_features": BOND_FEATURE_NAMES, "bond_feature_dims": BOND_FEATURE_DIMS}


# -- one molecule's raw RDKit values --------------------------------------------------------
@functools.cache
def _tables(kind: str) -> list[tuple[int, np.ndarray, int]]:
    """Per feature ``(lowest listed raw value, lookup raw - lowest -> index, other index)``."""
    from rdkit import Chem

    tables = []
    for name, vocab in (_ATOM_VOCAB if kind == "atom" else _BOND_VOCAB).items():
        if name in _ENUMS:
            enum = getattr(Chem, _ENUMS[name])
            raw = [int(enum.names[v]) for v in vocab]
        else:
            raw = [int(v) for v in vocab]
        lo, other = min(raw), _dim(vocab) - 1
        table = np.full(max(raw) - lo + 1, other, dtype=np.uint8)
        table[np.asarray(raw) - lo] = np.arange(len(vocab))
        tables.append((lo, table, other))
    return tables


def _encode(raw: np.ndarray, kind: str) -> np.ndarray:
    """Raw RDKit values int64 ``[n, F]`` -> vocabulary indices uint8 ``[n, F]``."""
    out = np.empty(raw.shape, dtype=np.uint8)
    for c, (lo, table, other) in enumerate(_tables(kind)):
        v = raw[:, c] - lo
        inside = (v >= 0) & (v < len(table))
        out[:, c] = np.where(inside, table[np.where(inside, v, 0)], other)
    return out


@functools.cache
def _unsanitized_params():
    from rdkit import Chem

    params = Chem.SmilesParserParams()  # MolFromSmiles's defaults otherwise
    params.sanitize = False
    params.removeHs = False
    return params


def _parse(smiles, position: int | None, stereo_free: bool = False):
    """RDKit Mol, fast path first; on failure :func:`molmtd.molecules.to_mol` names why.

    ``stereo_free``: ``smiles`` is plain and has no bond directions (see
    :meth:`_Raw.append`). Its Mol is parsed without sanitisation and then sanitised, which
    is ``MolFromSmiles`` minus its two last steps: removing hydrogens (a SMILES without
    bracket atoms has no hydrogen atom) and perceiving stereo, which has no chiral tag or
    bond direction to read and only sets properties such as ``_CIPRank`` that no feature
    reads (~15% of a parse on MOSES keys).
    """
    from rdkit import Chem

    mol = None
    if isinstance(smiles, str) and smiles:
        if stereo_free:
            mol = Chem.MolFromSmiles(smiles, _unsanitized_params())
            if mol is not None:
                try:
                    Chem.SanitizeMol(mol)
                except Exception:  # RDKit's MolSanitizeException kinds; to_mol says which
                    mol = None
        else:
            mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        from molmtd.molecules import to_mol

        mol = to_mol(smiles, position)  # raises InvalidMoleculeError with the reason
    if mol.GetNumAtoms() == 0:
        raise InvalidMoleculeError(position, "no atoms", smiles)
    return mol


@functools.cache
def _getters() -> tuple[tuple, tuple]:
    # RDKit's Atom and Bond methods, unbound: map(get, atoms) calls them from C, without
    # the bound-method object Boost.Python builds for every atom.get() nor a Python loop
    from rdkit import Chem

    A, B = Chem.Atom, Chem.Bond
    return ((A.GetAtomicNum, A.GetChiralTag, A.GetFormalCharge, A.GetTotalNumHs,
             A.GetNumRadicalElectrons, A.GetHybridization, A.GetIsAromatic, A.IsInRing),
            (B.GetBeginAtomIdx, B.GetEndAtomIdx, B.GetBondType, B.GetStereo, B.GetIsConjugated,
             B.IsInRing))


class _Raw:
    """Raw RDKit values of consecutive molecules, before the vocabulary mapping.

    One list per column: atoms (atomic_num, chirality, formal_charge, num_hs,
    num_radical_electrons, hybridization, is_aromatic, is_in_ring), bonds (begin, end,
    bond_type, stereo, is_conjugated, is_in_ring), atom indices local to the molecule.
    Each column is read with ``map(getter, atoms)``: the RDKit calls are made from C,
    column by column (1.3x the rate of a Python loop building one tuple per atom,
    measured on MOSES). Degrees are not read atom by atom: an atom's degree is its number
    of bonds (``Atom.GetDegree`` counts bonded neighbours), computed for the whole block
    by ``np.bincount``. Ring flags are ``Atom.IsInRing``/``Bond.IsInRing`` (the ring
    info's ``NumAtomRings``/``NumBondRings`` != 0): reading ``RingInfo.AtomRings()`` and
    ``BondRings()`` instead costs more, as RDKit converts them to tuples through a
    Python-level iterator (rdkit/__init__.py ``VectIter``).
    """

    def __init__(self):
        self.atoms: tuple[list, ...] = tuple([] for _ in range(8))
        self.bonds: tuple[list, ...] = tuple([] for _ in range(6))

    def append(self, mol, plain: bool, bond_stereo: bool = True) -> tuple[int, int]:
        r"""Append ``mol``; returns the (atoms, bonds) added.

        ``plain``: the molecule was parsed from a SMILES without "[" and "|": no bracket
        atom, so no chirality, charge or radical can be set (only bracket atoms carry
        them in SMILES, and radicals otherwise only come from a CXSMILES "|^1:..|" field);
        those columns are 0 (CHI_UNSPECIFIED, 0, 0) without asking RDKit.
        ``bond_stereo`` False: the SMILES is plain and has no "/" or "\" either: a bond's
        stereo (E/Z, cis/trans, any) is only set from those bond directions or from a
        CXSMILES field, so the column is 0 (STEREONONE) without asking RDKit.
        """
        (num, chi, chg, hs, rad, hyb, aro, a_ring), \
            (beg, end, btype, stereo, conj, b_ring) = _getters()
        n_atoms, n_bonds = mol.GetNumAtoms(), mol.GetNumBonds()
        # GetAtomWithIdx is cheaper than iterating mol.GetAtoms() (measured 50 vs 80 us/mol)
        atoms = list(map(mol.GetAtomWithIdx, range(n_atoms)))
        c_num, c_chi, c_chg, c_hs, c_rad, c_hyb, c_aro, c_ring = self.atoms
        c_num.extend(map(num, atoms))
        if plain:
            c_chi.extend(repeat(0, n_atoms))
            c_chg.extend(repeat(0, n_atoms))
            c_rad.extend(repeat(0, n_atoms))
        else:
            c_chi.extend(map(chi, atoms))
            c_chg.extend(map(chg, atoms))
            c_rad.extend(map(rad, atoms))
        c_hs.extend(map(hs, atoms))
        c_hyb.extend(map(hyb, atoms))
        c_aro.extend(map(aro, atoms))
        c_ring.extend(map(a_ring, atoms))
        bonds = list(map(mol.GetBondWithIdx, range(n_bonds)))
        c_beg, c_end, c_type, c_stereo, c_conj, c_bring = self.bonds
        c_beg.extend(map(beg, bonds))
        c_end.extend(map(end, bonds))
        c_type.extend(map(btype, bonds))
        c_stereo.extend(map(stereo, bonds) if bond_stereo else repeat(0, n_bonds))
        c_conj.extend(map(conj, bonds))
        c_bring.extend(map(b_ring, bonds))
        return n_atoms, n_bonds


def _column(values: list) -> np.ndarray:
    # RDKit enums are int subclasses: fromiter reads them as their integer value
    return np.fromiter(values, dtype=np.int64, count=len(values))


@dataclass
class _Block:
    """Graphs of consecutive molecules, concatenated; failed molecules have no atoms.

    Shapes:
        x: uint8 ``[A, len(ATOM_FEATURE_DIMS)]``; edge_index: int32 ``[2, E]`` (indices
        local to each molecule); edge_attr: uint8 ``[E, len(BOND_FEATURE_DIMS)]``;
        num_atoms, num_edges: int64 ``[n]``.
    """

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    num_atoms: np.ndarray
    num_edges: np.ndarray
    failures: dict[int, str]  # input position -> reason

    @classmethod
    def from_raw(cls, raw: _Raw, num_atoms, num_bonds, failures) -> _Block:
        num_atoms = np.asarray(num_atoms, dtype=np.int64)
        num_bonds = np.asarray(num_bonds, dtype=np.int64)
        n_a, n_b = len(raw.atoms[0]), len(raw.bonds[0])
        # columns in the order of ATOM_FEATURE_NAMES / BOND_FEATURE_NAMES
        raw_atoms = np.empty((n_a, len(ATOM_FEATURE_DIMS)), dtype=np.int64)
        for c, values in zip((0, 1, 3, 4, 5, 6, 7, 8), raw.atoms, strict=True):
            raw_atoms[:, c] = _column(values)
        raw_bonds = np.empty((n_b, 2 + len(BOND_FEATURE_DIMS)), dtype=np.int64)
        for c, values in enumerate(raw.bonds):
            raw_bonds[:, c] = _column(values)
        offsets = np.repeat(np.cumsum(num_atoms) - num_atoms, num_bonds)  # per bond
        raw_atoms[:, 2] = np.bincount((raw_bonds[:, :2] + offsets[:, None]).ravel(),
                                      minlength=n_a)  # degree
        ends = raw_bonds[:, :2].astype(np.int32)
        # each bond becomes two directed edges, (a -> b) then (b -> a)
        edge_index = np.stack([ends.ravel(), ends[:, ::-1].ravel()])
        edge_attr = np.repeat(_encode(raw_bonds[:, 2:], "bond"), 2, axis=0)
        return cls(_encode(raw_atoms, "atom"), edge_index, edge_attr, num_atoms,
                   2 * num_bonds, failures)

    @property
    def ok(self) -> np.ndarray:
        return self.num_atoms > 0


def _featurize_block(smiles: Sequence, start: int = 0) -> _Block:
    """Featurise ``smiles``; failures are recorded under ``start + k``, never raised."""
    import datamol as dm

    raw = _Raw()
    num_atoms = [0] * len(smiles)
    num_bonds = [0] * len(smiles)
    failures: dict[int, str] = {}
    with dm.without_rdkit_log():
        for k, s in enumerate(smiles):
            plain = _plain(s)
            bond_stereo = _bond_stereo(s, plain)
            try:
                mol = _parse(s, start + k, stereo_free=not bond_stereo)
            except InvalidMoleculeError as err:
                failures[start + k] = err.reason
                continue
            num_atoms[k], num_bonds[k] = raw.append(mol, plain, bond_stereo)
    return _Block.from_raw(raw, num_atoms, num_bonds, failures)


def _plain(smiles) -> bool:
    """A SMILES string without bracket atoms or a CXSMILES field (see :meth:`_Raw.append`)."""
    return isinstance(smiles, str) and "[" not in smiles and "|" not in smiles


def _bond_stereo(smiles, plain: bool) -> bool:
    """Whether bond stereo can be set: not plain, or bond directions (see :meth:`_Raw.append`)."""
    return not plain or "/" in smiles or "\\" in smiles


def _to_data(x: np.ndarray, edge_index: np.ndarray, edge_attr: np.ndarray):
    import torch
    from torch_geometric.data import Data

    return Data(x=torch.from_numpy(x.astype(np.int64)),
                edge_index=torch.from_numpy(edge_index.astype(np.int64)),
                edge_attr=torch.from_numpy(edge_attr.astype(np.int64)))


def smiles_to_graph(smiles: str, position: int | None = None):
    """One molecule as ``Data(x, edge_index, edge_attr)`` of vocabulary indices.

    Args:
        smiles: a SMILES string (an RDKit Mol is accepted too).
        position: the input's index, carried into the error.

    Shapes:
        x: long ``[num_atoms, len(ATOM_FEATURE_DIMS)]``;
        edge_index: long ``[2, 2 * num_bonds]`` (each bond in both directions; ``[2, 0]``
        for a single atom); edge_attr: long ``[2 * num_bonds, len(BOND_FEATURE_DIMS)]``.

    Raises:
        InvalidMoleculeError: empty input, unparseable SMILES, failed sanitisation, or
            a molecule with no atoms.
    """
    import datamol as dm

    plain = _plain(smiles)
    bond_stereo = _bond_stereo(smiles, plain)
    with dm.without_rdkit_log():
        mol = _parse(smiles, position, stereo_free=not bond_stereo)
    raw = _Raw()
    n_atoms, n_bonds = raw.append(mol, plain, bond_stereo)
    block = _Block.from_raw(raw, [n_atoms], [n_bonds], {})
    return _to_data(block.x, block.edge_index, block.edge_attr)


def _n_workers(n_jobs: int) -> int:
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"The 'n_jobs' parameter must be a positive int or -1 (all cores). "
                         f"Got {n_jobs!r} instead.")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


# molecules per task: dispatch costs ~nothing, and the raw Python values of one block
# stay small (a 50k-molecule chunk in one go would peak at ~200 MB of tuples)
_BLOCK = 2_000


def _featurize(smiles: Sequence, n_jobs: int, start: int = 0, parallel=None) -> _Block:
    """All of ``smiles`` as one block, featurised in blocks by ``n_jobs`` processes."""
    spans = range(0, len(smiles), _BLOCK)
    if n_jobs == 1 or len(smiles) <= _BLOCK:
        blocks = [_featurize_block(smiles[i:i + _BLOCK], start + i) for i in spans]
    else:
        from joblib import Parallel, delayed

        parallel = parallel or Parallel(n_jobs=n_jobs)
        blocks = parallel(delayed(_featurize_block)(smiles[i:i + _BLOCK], start + i)
                          for i in spans)
    if len(blocks) <= 1:
        return blocks[0] if blocks else _featurize_block([], start)
    return _Block(np.concatenate([b.x for b in blocks]),
                  np.concatenate([b.edge_index for b in blocks], axis=1),
                  np.concatenate([b.edge_attr for b in blocks]),
                  np.concatenate([b.num_atoms for b in blocks]),
                  np.concatenate([b.num_edges for b in blocks]),
                  {k: v for b in blocks for k, v in b.failures.items()})


def graphs_from_smiles(smiles: Sequence[str], n_jobs: int = 1):
    """Graphs aligned with ``smiles``; failures are reported, never raised.

    Args:
        smiles: SMILES strings (keys of a standardised corpus, typically).
        n_jobs: processes; -1 for all cores.

    Returns:
        ``(graphs, failures)``: a list with one ``Data`` (see :func:`smiles_to_graph`) or
        None per input, and ``{position: reason}`` for every None.
    """
    block = _featurize(list(smiles), _n_workers(n_jobs))
    atom_ptr = np.concatenate([[0], np.cumsum(block.num_atoms)])
    edge_ptr = np.concatenate([[0], np.cumsum(block.num_edges)])
    graphs = []
    for k, ok in enumerate(block.ok.tolist()):
        if not ok:
            graphs.append(None)
            continue
        a0, a1, e0, e1 = atom_ptr[k], atom_ptr[k + 1], edge_ptr[k], edge_ptr[k + 1]
        graphs.append(_to_data(block.x[a0:a1], block.edge_index[:, e0:e1],
                               block.edge_attr[e0:e1]))
    return graphs, dict(block.failures)


def _collate(xs: list, edges: list, attrs: list):
    """Per-molecule arrays (edge indices local to each molecule) -> one ``Batch``.

    Equal to ``Batch.from_data_list`` of the same graphs, ``to_data_list()`` included,
    without building one ``Data`` per molecule first (~120 us per molecule saved, measured
    by benchmarks/featurizer.py; PyG has no collate from raw arrays).
    """
    import torch
    from torch_geometric.data import Batch

    n_atoms = np.fromiter((len(x) for x in xs), dtype=np.int64, count=len(xs))
    n_edges = np.fromiter((len(a) for a in attrs), dtype=np.int64, count=len(attrs))
    atom_ptr = np.concatenate([[0], np.cumsum(n_atoms)])
    edge_ptr = np.concatenate([[0], np.cumsum(n_edges)])
    edge_index = np.concatenate(edges, axis=1).astype(np.int64)
    edge_index += np.repeat(atom_ptr[:-1], n_edges)
    t = torch.from_numpy
    out = Batch(x=t(np.concatenate(xs).astype(np.int64)), edge_index=t(edge_index),
                edge_attr=t(np.concatenate(attrs).astype(np.int64)),
                batch=t(np.repeat(np.arange(len(xs)), n_atoms)), ptr=t(atom_ptr))
    # the bookkeeping Batch.from_data_list leaves, so to_data_list()/get_example work
    out._num_graphs = len(xs)
    out._slice_dict = {"x": t(atom_ptr), "edge_index": t(edge_ptr), "edge_attr": t(edge_ptr)}
    out._inc_dict = {"x": torch.zeros(len(xs), dtype=torch.long),
                     "edge_index": t(atom_ptr[:-1].copy()),
                     "edge_attr": torch.zeros(len(xs), dtype=torch.long)}
    return out


def graph_batches_from_smiles(smiles: Sequence[str], batch_size: int, n_jobs: int = 1):
    """Featurise ``smiles`` and collate them ``batch_size`` at a time, for inference.

    Same graphs as :func:`graphs_from_smiles`, but batches are collated straight from the
    featurised arrays (1.1-1.2x the rate of ``Batch.from_data_list`` of per-molecule
    ``Data``, benchmarks/featurizer.py).

    Args:
        smiles: SMILES strings.
        batch_size: molecules per batch.
        n_jobs: processes for featurisation (inputs above 2000 molecules); -1 = all cores.

    Returns:
        ``(batches, failures)``: an iterator of ``(positions, Batch)``, where
        ``positions`` (int64 ``[b]``) are the inputs in the batch, in input order, and
        ``{position: reason}`` for every input left out.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    block = _featurize(list(smiles), _n_workers(n_jobs))
    atom_ptr = np.concatenate([[0], np.cumsum(block.num_atoms)])
    edge_ptr = np.concatenate([[0], np.cumsum(block.num_edges)])
    rows = np.flatnonzero(block.ok)

    def batches():
        for start in range(0, len(rows), batch_size):
            positions = rows[start:start + batch_size]
            a0, a1 = atom_ptr[positions], atom_ptr[positions + 1]
            e0, e1 = edge_ptr[positions], edge_ptr[positions + 1]
            yield positions, _collate(
                [block.x[i:j] for i, j in zip(a0, a1, strict=True)],
                [block.edge_index[:, i:j] for i, j in zip(e0, e1, strict=True)],
                [block.edge_attr[i:j] for i, j in zip(e0, e1, strict=True)])

    return batches(), dict(block.failures)


# -- the on-disk store -------------------------------------------------------------------
FORMAT_VERSION = 1
_ARRAYS = ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr")


def _write_atomic(path: Path, data: bytes | np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            if isinstance(data, np.ndarray):
                np.save(fh, data)
            else:
                fh.write(data)

    atomic_write(path, write)  # unique temporary name per process, fsync, rename


def _chunk_intact(directory: Path, entry: dict) -> bool:
    """Whether a finished chunk's arrays exist and match their checksums (if recorded)."""
    sums = entry.get("sha256", {})
    return all(_file_matches(directory / f"chunk_{entry['index']:05d}.{name}.npy",
                             sums.get(name)) for name in _ARRAYS)


class GraphStore:
    """The graphs of a keyed corpus on disk; ``store[i]`` is molecule ``keys[i]``.

    Layout of ``directory``: ``manifest.json`` (format, feature schema, sha256 of the
    keys, chunk size, finished chunks), ``keys.txt``, and per chunk of ``chunk_size``
    molecules ``chunk_00000.{x,edge_index,edge_attr,atom_ptr,edge_ptr}.npy`` (atom
    features uint8, per-molecule edge indices int32, bond features uint8, int64 offsets)
    plus ``chunk_00000.failures.json``. Arrays are memory-mapped when first read, so a
    2M-molecule corpus never sits in RAM as Python objects.

    Args:
        directory: a folder written by :meth:`build`.

    Raises:
        StoreError: no store there, an unfinished build, or another feature schema.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        path = self.directory / "manifest.json"
        if not path.is_file():
            raise StoreError(f"{self.directory} holds no graph store (no manifest.json); "
                             "build one with GraphStore.build(keys, directory)")
        self.manifest = json.loads(path.read_text())
        _check_schema(self.manifest, self.directory)
        done = {c["index"] for c in self.manifest["chunks"]}
        missing = sorted(set(range(self.manifest["n_chunks"])) - done)
        if missing:
            raise StoreError(f"graph store {self.directory} is unfinished ({len(missing)} of "
                             f"{self.manifest['n_chunks']} chunks missing); run "
                             "GraphStore.build(keys, directory) again, it resumes")
        self._n = int(self.manifest["n_molecules"])
        self._chunk_size = int(self.manifest["chunk_size"])
        self._chunks: dict[int, dict[str, np.ndarray]] = {}
        self._ok: np.ndarray | None = None
        self._keys: list[str] | None = None

    # -- building --------------------------------------------------------------------------
    @classmethod
    def build(cls, keys: Sequence[str], directory: str | Path, *, n_jobs: int = 1,
              chunk_size: int = 50_000, progress: bool = True) -> GraphStore:
        """Featurise ``keys`` into ``directory``, resuming a build that was interrupted.

        A chunk's arrays are written to temporary files and renamed, then the chunk is
        recorded in the manifest (itself replaced atomically): after ``kill -9`` only the
        chunk in progress is redone. A finished store is opened without any work.

        Args:
            keys: the corpus' molecule keys (standardised SMILES), in corpus order.
            directory: where the store lives (created if missing).
            n_jobs: featurisation processes; -1 for all cores.
            chunk_size: molecules per chunk (the unit of resumption); a resumed build
                keeps the chunk size it started with.
            progress: log one line per finished chunk.

        Raises:
            StoreError: ``directory`` holds a store of other keys or of another feature
                schema; the message says what to delete.
            ValueError: a key is not a one-line string, or bad ``n_jobs``/``chunk_size``.
        """
        n_jobs = _n_workers(n_jobs)
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"The 'chunk_size' parameter of GraphStore.build must be an int "
                             f">= 1. Got {chunk_size!r} instead.")
        keys = list(keys)
        for i, key in enumerate(keys):
            if not isinstance(key, str) or "\n" in key or "\r" in key:
                raise ValueError(f"key {i} ({str(key)[:80]!r}) must be a one-line string")
        directory = Path(directory)
        with directory_lock(directory, "the graph store"):  # a second builder waits here
            cls._build_locked(keys, directory, n_jobs, chunk_size, progress)
        return cls(directory)

    @classmethod
    def _build_locked(cls, keys: list[str], directory: Path, n_jobs: int, chunk_size: int,
                      progress: bool) -> None:
        path = directory / "manifest.json"
        sha = keys_sha256(keys)
        if path.is_file():
            manifest = json.loads(path.read_text())
            _check_schema(manifest, directory)
            if manifest.get("keys_sha256") != sha:
                raise StoreError(
                    f"graph store {directory} was built for other molecules "
                    f"({manifest.get('n_molecules')} keys, sha256 "
                    f"{str(manifest.get('keys_sha256'))[:12]}..; now {len(keys)} keys, sha256 "
                    f"{sha[:12]}..); delete {directory} or build into another directory")
            if manifest["chunk_size"] != chunk_size:
                log.info("graphs: %s was started with chunk_size=%d; keeping it", directory,
                         manifest["chunk_size"])
            remove_stale_temporaries(directory)  # left by a build killed mid-write
            corrupt = [e["index"] for e in manifest["chunks"] if not _chunk_intact(directory, e)]
            if corrupt:
                log.warning("graphs: chunk(s) %s of %s are missing or do not match their "
                            "checksums (corrupt); recomputing them", corrupt, directory)
                manifest["chunks"] = [e for e in manifest["chunks"]
                                      if e["index"] not in corrupt]
                _write_atomic(path, json.dumps(manifest, indent=1).encode())
        else:
            directory.mkdir(parents=True, exist_ok=True)
            _write_atomic(directory / "keys.txt", "".join(k + "\n" for k in keys).encode())
            manifest = {"format": "molmtd-graph-store", "format_version": FORMAT_VERSION,
                        "feature_schema": feature_schema(), "keys_sha256": sha,
                        "n_molecules": len(keys), "chunk_size": chunk_size,
                        "n_chunks": -(-len(keys) // chunk_size), "chunks": []}
            _write_atomic(path, json.dumps(manifest, indent=1).encode())
        size = manifest["chunk_size"]
        done = {c["index"] for c in manifest["chunks"]}
        todo = [c for c in range(manifest["n_chunks"]) if c not in done]
        if todo:
            log.info("graphs: featurising %d of %d chunk(s) into %s (n_jobs=%d)", len(todo),
                     manifest["n_chunks"], directory, n_jobs)
            parallel = None
            if n_jobs > 1:
                from joblib import Parallel

                parallel = Parallel(n_jobs=n_jobs)
            for c in todo:
                t0 = time.perf_counter()
                part = keys[c * size:(c + 1) * size]
                block = _featurize(part, n_jobs, start=c * size, parallel=parallel)
                manifest["chunks"].append(_write_chunk(directory, c, block))
                manifest["chunks"].sort(key=lambda entry: entry["index"])
                _write_atomic(path, json.dumps(manifest, indent=1).encode())
                if progress:
                    log.info("graphs: chunk %d/%d written (%d molecules, %d failed, %.0f mol/s)",
                             c + 1, manifest["n_chunks"], len(part), len(block.failures),
                             len(part) / max(time.perf_counter() - t0, 1e-9))

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def keys(self) -> list[str]:
        """The molecule keys, in store order (read from ``keys.txt`` on first use)."""
        if self._keys is None:
            with open(self.directory / "keys.txt", encoding="utf-8", newline="") as fh:
                text = fh.read()
            keys = text.split("\n")[:-1] if text else []
            if len(keys) != self._n:
                raise StoreError(f"graph store {self.directory}: keys.txt holds {len(keys)} "
                                 f"keys, the manifest {self._n}; delete the directory and "
                                 "rebuild it")
            self._keys = keys
        return self._keys

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask ``[len(store)]``: False where the molecule could not be featurised."""
        if self._ok is None:
            ok = np.ones(self._n, dtype=bool)
            ok[list(self.failures)] = False
            self._ok = ok
        return self._ok

    @property
    def failures(self) -> dict[int, str]:
        """``{position: reason}`` of the molecules that could not be featurised."""
        out: dict[int, str] = {}
        for c in range(self.manifest["n_chunks"]):
            text = (self.directory / f"chunk_{c:05d}.failures.json").read_text()
            out.update({int(k): v for k, v in json.loads(text).items()})
        return out

    def _chunk(self, c: int) -> dict[str, np.ndarray]:
        chunk = self._chunks.get(c)
        if chunk is None:
            entry = self.manifest["chunks"][c]
            if not _chunk_intact(self.directory, entry):
                raise StoreError(f"graph store {self.directory}: chunk {c} is missing or does "
                                 "not match its checksum (corrupt); build the store again "
                                 "(GraphStore.build, or rerun molmtd distill): it recomputes "
                                 "that chunk")
            try:
                # plain ndarray views of the memory maps: slicing a np.memmap is slower
                chunk = {name: np.load(self.directory / f"chunk_{c:05d}.{name}.npy",
                                       mmap_mode="r").view(np.ndarray) for name in _ARRAYS}
            except (OSError, ValueError) as err:
                raise StoreError(f"graph store {self.directory}: chunk {c} cannot be read "
                                 f"({err}); delete the directory and rebuild it") from err
            if (len(chunk["atom_ptr"]) != entry["n"] + 1
                    or not chunk["x"].shape[0] == entry["n_atoms"] == chunk["atom_ptr"][-1]
                    or not chunk["edge_index"].shape[1] == entry["n_edges"]
                    == chunk["edge_attr"].shape[0] == chunk["edge_ptr"][-1]):
                raise StoreError(f"graph store {self.directory}: chunk {c} does not match its "
                                 "manifest entry; delete the directory and rebuild it")
            self._chunks[c] = chunk
        return chunk

    def _locate(self, i) -> tuple[dict[str, np.ndarray], int]:
        i = operator.index(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"graph {i} is out of range for a store of {self._n}")
        c, j = divmod(i, self._chunk_size)
        chunk = self._chunks.get(c) or self._chunk(c)
        if chunk["atom_ptr"][j] == chunk["atom_ptr"][j + 1]:
            reason = self.failures.get(i, "unknown")
            raise StoreError(f"molecule {i} ({self.keys[i][:80]!r}) of graph store "
                             f"{self.directory} has no graph ({reason}); select molecules "
                             "with store.ok")
        return chunk, j

    def __getitem__(self, i: int):
        """Molecule ``i`` as ``Data`` (same tensors as :func:`smiles_to_graph`).

        Raises:
            IndexError: ``i`` out of range.
            StoreError: molecule ``i`` failed featurisation (see :attr:`ok`).
        """
        chunk, j = self._locate(i)
        a0, a1 = chunk["atom_ptr"][j:j + 2]
        e0, e1 = chunk["edge_ptr"][j:j + 2]
        return _to_data(chunk["x"][a0:a1], chunk["edge_index"][:, e0:e1],
                        chunk["edge_attr"][e0:e1])

    def batch(self, indices: Sequence[int]):
        """Molecules ``indices`` collated straight from the arrays into one ``Batch``.

        Equal to ``Batch.from_data_list([store[i] for i in indices])`` (including
        ``to_data_list()``), without building one ``Data`` per molecule.

        Shapes:
            x: long ``[sum atoms, len(ATOM_FEATURE_DIMS)]``; edge_index: long
            ``[2, sum edges]``; edge_attr: long ``[sum edges, len(BOND_FEATURE_DIMS)]``;
            batch: long ``[sum atoms]``; ptr: long ``[len(indices) + 1]``.

        Raises:
            IndexError, StoreError: as :meth:`__getitem__`.
        """
        xs, edges, attrs = [], [], []
        for i in np.asarray(indices).reshape(-1).tolist():
            chunk, j = self._locate(i)
            a0, a1 = chunk["atom_ptr"][j:j + 2]
            e0, e1 = chunk["edge_ptr"][j:j + 2]
            xs.append(chunk["x"][a0:a1])
            edges.append(chunk["edge_index"][:, e0:e1])
            attrs.append(chunk["edge_attr"][e0:e1])
        if not xs:
            raise ValueError("GraphStore.batch needs at least one index")
        return _collate(xs, edges, attrs)

    def __getstate__(self) -> dict:
        # memory maps are reopened lazily in each DataLoader worker process
        return {**self.__dict__, "_chunks": {}}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.directory)!r}, n={self._n}, "
                f"failed={self._n - int(self.ok.sum())})")


def _check_schema(manifest: dict, directory: Path) -> None:
    if manifest.get("format") != "molmtd-graph-store" \
            or manifest.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{directory} is not a graph store of format version "
                         f"{FORMAT_VERSION}; delete it or build into another directory")
    if manifest.get("feature_schema") != feature_schema():
        got = manifest.get("feature_schema", {})
        raise StoreError(f"graph store {directory} holds features of schema version "
                         f"{got.get('version')} ({got.get('atom_feature_dims')}, "
                         f"{got.get('bond_feature_dims')}); this molmtd computes version "
                         f"{FEATURE_SCHEMA_VERSION} ({ATOM_FEATURE_DIMS}, {BOND_FEATURE_DIMS}); "
                         f"delete {directory} to rebuild it")


def _write_chunk(directory: Path, c: int, block: _Block) -> dict:
    """Write one chunk's files atomically; returns its manifest entry."""
    arrays = {"x": block.x, "edge_index": block.edge_index, "edge_attr": block.edge_attr,
              "atom_ptr": np.concatenate([[0], np.cumsum(block.num_atoms)]),
              "edge_ptr": np.concatenate([[0], np.cumsum(block.num_edges)])}
    sums = {}
    for name, array in arrays.items():
        file = directory / f"chunk_{c:05d}.{name}.npy"
        _write_atomic(file, np.ascontiguousarray(array))
        sums[name] = _sha256_file(file)
    _write_atomic(directory / f"chunk_{c:05d}.failures.json",
                  json.dumps({str(k): v for k, v in sorted(block.failures.items())}).encode())
    return {"index": c, "n": len(block.num_atoms), "n_failed": len(block.failures),
            "n_atoms": int(block.x.shape[0]), "n_edges": int(block.edge_attr.shape[0]),
            "sha256": sums}
