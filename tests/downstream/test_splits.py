from __future__ import annotations

import numpy as np
import pytest

from molmtd.downstream.splits import (
    kfold_splits,
    make_split,
    murcko_scaffolds,
    random_split,
    scaffold_split,
)
from molmtd.errors import InvalidMoleculeError

RINGS = ["c1ccccc1", "C1CCCCC1", "c1ccncc1", "C1CCNCC1", "c1ccc2ccccc2c1", "C1CCOC1",
         "c1ccsc1", "c1cc[nH]c1", "C1CC1", "c1ccc(cc1)-c1ccccc1"]
SUBST = ["C", "CC", "O", "N", "Cl", "F", "OC", "C(=O)O"]


def library() -> list[str]:
    """80 molecules: 10 scaffolds x 8 substituents (plus acyclic chains)."""
    from rdkit import Chem

    out = []
    for ring in RINGS:
        mol = Chem.MolFromSmiles(ring)
        for sub in SUBST:
            edit = Chem.RWMol(Chem.CombineMols(mol, Chem.MolFromSmiles(sub)))
            edit.AddBond(0, mol.GetNumAtoms(), Chem.BondType.SINGLE)
            m = edit.GetMol()
            Chem.SanitizeMol(m)
            out.append(Chem.MolToSmiles(m))
    return out + ["CCCC", "CCCCO", "CCOCC", "CCN"]


def test_murcko_scaffolds():
    assert murcko_scaffolds(["Cc1ccccc1", "CCCC", "OC1CCCCC1"]) == ["c1ccccc1", "", "C1CCCCC1"]
    assert murcko_scaffolds(["c1ccncc1C", "C1CCNCC1"], generic=True) == ["C1CCCCC1"] * 2
    with pytest.raises(InvalidMoleculeError, match="input 1") as info:
        murcko_scaffolds(["CCO", "not-smiles"])
    assert info.value.position == 1


def test_random_split_is_seeded_and_partitions():
    train, test = random_split(100, 0.2, seed=3)
    assert len(test) == 20 and sorted([*train, *test]) == list(range(100))
    again = random_split(100, 0.2, seed=3)
    assert np.array_equal(test, again[1]) and not np.array_equal(test, random_split(100, 0.2, 4)[1])
    y = np.r_[np.zeros(90), np.ones(10)]
    _, strat = random_split(100, 0.2, seed=0, stratify=y)
    assert y[strat].sum() == 2


def test_scaffold_split_keeps_families_apart_and_depends_on_seed():
    smiles = library()
    scaf = np.array(murcko_scaffolds(smiles))
    tests = []
    for seed in range(4):
        train, test = scaffold_split(smiles, 0.2, seed)
        assert sorted([*train, *test]) == list(range(len(smiles)))
        assert not set(scaf[train]) & set(scaf[test])
        assert 0.1 * len(smiles) <= len(test) <= 0.3 * len(smiles)
        tests.append(tuple(test))
    assert len(set(tests)) > 1
    assert tuple(scaffold_split(smiles, 0.2, 0)[1]) == tests[0]


def test_kfold_splits_cover_every_molecule_once():
    smiles = library()
    scaf = np.array(murcko_scaffolds(smiles))
    for kind in ("random", "scaffold"):
        folds = kfold_splits(kind, smiles, n_splits=4, seed=0)
        tested = np.concatenate([test for _, test in folds])
        assert sorted(tested) == list(range(len(smiles)))
        if kind == "scaffold":
            for train, test in folds:
                assert not set(scaf[train]) & set(scaf[test])


def test_split_errors():
    with pytest.raises(ValueError, match="unknown split 'cluster'"):
        make_split("cluster", ["CCO"] * 10)
    with pytest.raises(ValueError, match="only 1 scaffold families"):
        scaffold_split(["Cc1ccccc1", "CCc1ccccc1", "Oc1ccccc1"], 0.2, 0)
    with pytest.raises(ValueError, match="test_size must be in"):
        random_split(10, 1.5)
