"""Seeded train/test splits and k-fold cross-validation folds: random and scaffold.

Scaffolds are RDKit Bemis-Murcko scaffolds; a scaffold split keeps every scaffold family
entirely in train or in test. Fold assignment is scikit-learn's ``GroupKFold`` (which
balances the number of *molecules* per fold); we relabel the scaffold groups with a
seeded permutation first so that different seeds give different, still balanced, folds.
(deepchem's ScaffoldSplitter has no seed, so every "seed" would give the same split, and
``GroupKFold(shuffle=True)`` balances the number of *groups*, not molecules.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molmtd.errors import InvalidMoleculeError

__all__ = [
    "SPLITS",
    "murcko_scaffolds",
    "random_split",
    "scaffold_split",
    "make_split",
    "kfold_splits",
]

SPLITS = ("random", "scaffold")


def murcko_scaffolds(smiles: Sequence[str], generic: bool = False) -> list[str]:
    """The Bemis-Murcko scaffold SMILES of each molecule ("" for acyclic molecules).

    Args:
        smiles: SMILES strings (standardised ones give the most consistent families).
        generic: reduce scaffolds to their generic framework (all atoms carbon, all bonds
            single), which merges closely related families.

    Raises:
        InvalidMoleculeError: an unparseable SMILES, with its position.
    """
    import datamol as dm
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    out = []
    with dm.without_rdkit_log():
        for i, s in enumerate(smiles):
            mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s else None
            if mol is None:
                raise InvalidMoleculeError(i, "unparseable SMILES (cannot compute its scaffold)", s)
            core = MurckoScaffold.GetScaffoldForMol(mol)
            if generic and core.GetNumAtoms():
                core = MurckoScaffold.MakeScaffoldGeneric(core)
            out.append(Chem.MolToSmiles(core))
    return out


def _check_test_size(test_size: float) -> None:
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")


def random_split(n: int, test_size: float = 0.2, seed: int = 0,
                 stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train/test indices (stratified by ``stratify`` labels if given)."""
    from sklearn.model_selection import train_test_split

    _check_test_size(test_size)
    train, test = train_test_split(np.arange(n), test_size=test_size, random_state=seed,
                                   stratify=stratify)
    return np.sort(train), np.sort(test)


def _scaffold_groups(smiles: Sequence[str], seed: int) -> np.ndarray:
    _, groups = np.unique(murcko_scaffolds(smiles), return_inverse=True)
    # a seeded relabelling changes GroupKFold's order among equally sized families
    perm = np.random.default_rng(seed).permutation(groups.max() + 1)
    return perm[groups]


def scaffold_split(smiles: Sequence[str], test_size: float = 0.2,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded scaffold train/test indices: no scaffold family is on both sides.

    The test set is one of ``round(1 / test_size)`` molecule-balanced scaffold folds,
    chosen by the seed.

    Raises:
        ValueError: fewer scaffold families than folds.
    """
    from sklearn.model_selection import GroupKFold

    _check_test_size(test_size)
    n_folds = max(2, round(1.0 / test_size))
    groups = _scaffold_groups(smiles, seed)
    if groups.max() + 1 < n_folds:
        raise ValueError(f"scaffold split: only {groups.max() + 1} scaffold families, need at "
                         f"least {n_folds} for test_size={test_size}; use a random split")
    folds = list(GroupKFold(n_splits=n_folds).split(np.zeros(len(groups)), groups=groups))
    train, test = folds[int(np.random.default_rng(seed).integers(n_folds))]
    return np.sort(train), np.sort(test)


def make_split(kind: str, smiles: Sequence[str], test_size: float = 0.2, seed: int = 0,
               stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A train/test split by name: "random" (optionally stratified) or "scaffold".

    Raises:
        ValueError: unknown kind.
    """
    if kind == "random":
        return random_split(len(smiles), test_size, seed, stratify)
    if kind == "scaffold":
        return scaffold_split(smiles, test_size, seed)
    raise ValueError(f"unknown split {kind!r}; expected one of {', '.join(SPLITS)}")


def kfold_splits(kind: str, smiles: Sequence[str], n_splits: int = 5, seed: int = 0,
                 stratify: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded k-fold (train, test) index pairs.

    ``kind`` is "random" (KFold, or StratifiedKFold when ``stratify`` is given) or
    "scaffold" (molecule-balanced GroupKFold over scaffolds).

    Raises:
        ValueError: unknown kind, or too few molecules / families for ``n_splits``.
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    n = len(smiles)
    if kind == "random":
        if stratify is not None:
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
            return list(cv.split(np.zeros(n), stratify))
        return list(KFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(n)))
    if kind == "scaffold":
        groups = _scaffold_groups(smiles, seed)
        return list(GroupKFold(n_splits).split(np.zeros(n), groups=groups))
    raise ValueError(f"unknown split {kind!r}; expected one of {', '.join(SPLITS)}")
