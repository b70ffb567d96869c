"""MTDDeepChemFeaturizer through deepchem's API: featurize, NumpyDataset, CSVLoader, models."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest

dc = pytest.importorskip("deepchem")

from rdkit import Chem  # noqa: E402
from sklearn.linear_model import RidgeCV  # noqa: E402

from molmtd.artifact import make_random_artifact  # noqa: E402
from molmtd.errors import InvalidMoleculeError  # noqa: E402
from molmtd.featurizer import MTDFeaturizer  # noqa: E402
from molmtd.integrations.deepchem import MTDDeepChemFeaturizer  # noqa: E402

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1", "C1CCNCC1"]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> str:
    return str(make_random_artifact(tmp_path_factory.mktemp("art") / "rand", seed=2))


@pytest.fixture(scope="module")
def reference(artifact) -> np.ndarray:
    return MTDFeaturizer(artifact).transform(SMILES)


def test_is_a_deepchem_molecular_featurizer(artifact, reference):
    f = MTDDeepChemFeaturizer(artifact)
    assert isinstance(f, dc.feat.MolecularFeaturizer)
    X = f.featurize(SMILES)
    assert X.dtype == np.float32 and X.shape == reference.shape
    np.testing.assert_array_equal(X, reference)
    np.testing.assert_array_equal(f(SMILES), reference)  # deepchem's __call__
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    np.testing.assert_allclose(f.featurize(mols), reference, atol=1e-6)
    np.testing.assert_allclose(f.featurize("CCO"), reference[:1], atol=1e-6)
    np.testing.assert_allclose(f._featurize(mols[1]), reference[1], atol=1e-6)


def test_numpy_dataset_and_sklearn_model(artifact):
    f = MTDDeepChemFeaturizer(artifact)
    y = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in SMILES], dtype=float)
    dataset = dc.data.NumpyDataset(X=f.featurize(SMILES), y=y, ids=np.array(SMILES))
    assert dataset.X.shape == (len(SMILES), f._mtd().dim)
    model = dc.models.SklearnModel(RidgeCV())
    model.fit(dataset)
    pred = model.predict(dataset)
    assert pred.shape[0] == len(SMILES) and np.isfinite(pred).all()


def test_failed_molecules_follow_deepchem_convention(artifact, reference, caplog):
    items = ["CCO", "xx", "c1ccccc1O", ""]
    with caplog.at_level(logging.WARNING, logger="molmtd.integrations.deepchem"):
        out = MTDDeepChemFeaturizer(artifact).featurize(items)
    assert out.dtype == object and [np.size(x) for x in out] == [reference.shape[1], 0,
                                                                 reference.shape[1], 0]
    np.testing.assert_allclose(np.stack([out[0], out[2]]), reference[:2], atol=1e-6)
    text = caplog.text
    assert "Failed to featurize datapoint 1, xx: unparseable SMILES" in text
    assert "Failed to featurize datapoint 3" in text


def test_on_error_nan_and_raise(artifact):
    items = ["CCO", "xx", "c1ccccc1O"]
    X = MTDDeepChemFeaturizer(artifact, on_error="nan").featurize(items)
    assert X.dtype == np.float32 and np.flatnonzero(np.isnan(X).all(axis=1)).tolist() == [1]
    with pytest.raises(InvalidMoleculeError, match="input 1") as info:
        MTDDeepChemFeaturizer(artifact, on_error="raise").featurize(items)
    assert info.value.reason == "unparseable SMILES"
    with pytest.raises(ValueError, match="'on_error' parameter of MTDDeepChemFeaturizer"):
        MTDDeepChemFeaturizer(artifact, on_error="skip").featurize(items)


def test_csv_loader_drops_bad_rows_and_keeps_labels_aligned(artifact, reference, tmp_path):
    import pandas as pd

    rows = ["CCO", "xx", "c1ccccc1O", "CCN(CC)CC"]
    pd.DataFrame({"smiles": rows, "y": [1.0, 2.0, 3.0, 4.0]}).to_csv(tmp_path / "d.csv",
                                                                   index=False)
    loader = dc.data.CSVLoader(tasks=["y"], feature_field="smiles",
                               featurizer=MTDDeepChemFeaturizer(artifact))
    dataset = loader.create_dataset(str(tmp_path / "d.csv"))
    assert list(dataset.ids) == ["CCO", "c1ccccc1O", "CCN(CC)CC"]
    assert dataset.y.ravel().tolist() == [1.0, 3.0, 4.0]
    np.testing.assert_allclose(dataset.X, reference[[0, 1, 3]], atol=1e-6)


def test_pickles_without_the_model(artifact, reference):
    f = MTDDeepChemFeaturizer(artifact)
    f.featurize(SMILES[:1])
    g = pickle.loads(pickle.dumps(f))
    assert "_mtd_cache" not in g.__dict__
    np.testing.assert_array_equal(g.featurize(SMILES), reference)
