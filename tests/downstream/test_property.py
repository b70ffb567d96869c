from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from sklearn.preprocessing import FunctionTransformer

from molmtd.downstream.datasets import load_dataset
from molmtd.downstream.property import cross_validate_property, evaluate_property


@pytest.fixture(scope="module")
def freesolv():
    smiles, y, task = load_dataset("freesolv", max_molecules=150, seed=0)
    return smiles, y, task, descriptors(smiles)


def descriptors(smiles):
    from rdkit.Chem import Crippen, Descriptors, rdMolDescriptors

    calcs = [Crippen.MolLogP, Crippen.MolMR, Descriptors.TPSA, Descriptors.MolWt,
             rdMolDescriptors.CalcNumHBD, rdMolDescriptors.CalcNumHBA,
             rdMolDescriptors.CalcNumRotatableBonds, rdMolDescriptors.CalcNumAromaticRings,
             rdMolDescriptors.CalcFractionCSP3, rdMolDescriptors.CalcLabuteASA]
    return np.array([[f(Chem.MolFromSmiles(s)) for f in calcs] for s in smiles],
                    dtype=np.float32)


def test_evaluate_property_with_embeddings_is_reproducible(freesolv):
    smiles, y, task, X = freesolv
    df = evaluate_property(X, y, task, smiles=smiles, splits=("random", "scaffold"), seeds=(0, 1))
    assert list(df[["split", "seed"]].itertuples(index=False, name=None)) == [
        ("random", 0), ("random", 1), ("scaffold", 0), ("scaffold", 1)]
    assert {"r2", "mae", "rmse", "n_train", "n_test"} <= set(df.columns)
    assert (df["n_train"] + df["n_test"] == len(y)).all()
    assert df.loc[df["split"] == "random", "r2"].mean() > 0.5  # descriptors predict FreeSolv
    again = evaluate_property(X, y, task, smiles=smiles, splits=("random", "scaffold"),
                              seeds=(0, 1))
    np.testing.assert_array_equal(df["r2"].to_numpy(), again["r2"].to_numpy())


def test_evaluate_property_with_a_featurizer_and_nan_rows(freesolv, caplog):
    smiles, y, task, X = freesolv
    featurizer = FunctionTransformer(descriptors)
    a = evaluate_property(featurizer, y, task, smiles=smiles, seeds=(0,))
    b = evaluate_property(X, y, task, smiles=smiles, seeds=(0,))
    assert a["r2"].iloc[0] == pytest.approx(b["r2"].iloc[0])
    X_nan = X.copy()
    X_nan[[3, 7]] = np.nan
    c = evaluate_property(X_nan, y, task, smiles=smiles, seeds=(0,))
    assert c["n_train"].iloc[0] + c["n_test"].iloc[0] == len(y) - 2
    assert "dropping 2 of 150 molecules" in caplog.text


def test_cross_validation_folds(freesolv):
    smiles, y, task, X = freesolv
    df = cross_validate_property(X, y, task, smiles=smiles, split="scaffold",
                                 n_splits=3)
    assert df["fold"].tolist() == [0, 1, 2] and df["n_test"].sum() == len(y)
    _, yc, _ = load_dataset("bbbp", max_molecules=60)
    Xc = np.random.default_rng(0).normal(size=(60, 5))
    dfc = cross_validate_property(Xc, yc, "classification", n_splits=3)
    assert {"auroc", "auprc"} <= set(dfc.columns)


def test_property_errors(freesolv):
    smiles, y, task, X = freesolv
    with pytest.raises(ValueError, match="scaffold split needs smiles"):
        evaluate_property(X, y, task, splits=("scaffold",))
    with pytest.raises(ValueError, match="same length"):
        evaluate_property(X[:10], y, task)
    with pytest.raises(ValueError, match="pass smiles="):
        evaluate_property(FunctionTransformer(descriptors), y, task)
