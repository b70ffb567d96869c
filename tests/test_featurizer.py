"""MTDFeaturizer as a scikit-learn transformer, against a small real (untrained) artifact."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from molmtd.artifact import make_random_artifact
from molmtd.errors import InvalidMoleculeError
from molmtd.featurizer import MTDFeaturizer, load_featurizer

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1",
          "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "C1CCNCC1", "c1ccncc1", "CCCCCCCC", "OCC(O)CO"]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> str:
    return str(make_random_artifact(tmp_path_factory.mktemp("art") / "rand", seed=0))


@pytest.fixture(scope="module")
def reference(artifact) -> np.ndarray:
    return MTDFeaturizer(artifact).transform(SMILES)


def heavy_atoms(smiles):
    return np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles], dtype=float)


def test_transform_shape_dtype_and_row_alignment(artifact, reference):
    f = MTDFeaturizer(artifact)
    assert reference.shape == (len(SMILES), f.dim) and reference.dtype == np.float32
    assert np.isfinite(reference).all()
    assert len({r.tobytes() for r in reference}) == len(SMILES)  # distinct molecules differ
    np.testing.assert_array_equal(f.transform(SMILES[::-1]), reference[::-1])
    small = MTDFeaturizer(artifact, batch_size=3).transform(SMILES)
    np.testing.assert_allclose(small, reference, atol=1e-5)


def test_worker_processes_give_the_same_rows(artifact, reference, monkeypatch):
    import molmtd.artifact
    import molmtd.graphs

    monkeypatch.setattr(molmtd.artifact, "_MIN_PARALLEL", 0)  # use workers on 10 molecules
    monkeypatch.setattr(molmtd.graphs, "_BLOCK", 4)  # several graph blocks
    items = SMILES[:4] + ["C1CC"] + SMILES[4:]
    f = MTDFeaturizer(artifact, n_jobs=2, batch_size=4, on_error="nan")
    with pytest.warns(UserWarning, match=r"input 4 \(.C1CC.\): unparseable SMILES"):
        out = f.transform(items)
    assert np.isnan(out[4]).all()
    np.testing.assert_allclose(np.delete(out, 4, axis=0), reference, atol=1e-5)


def test_layers_readout_is_wider_aligned_and_switchable(artifact, reference):
    f = MTDFeaturizer(artifact, readout="layers")
    layers = f.transform(SMILES)
    assert layers.shape == (len(SMILES), 2 * 32) and f.dim == 64  # make_random_artifact: 2x32
    assert np.isfinite(layers).all()
    np.testing.assert_allclose(f.transform(SMILES[::-1]), layers[::-1], atol=1e-6)
    assert len(f.get_feature_names_out()) == 64
    f.set_params(readout="embedding")  # same cached model, other readout
    np.testing.assert_array_equal(f.transform(SMILES), reference)


def test_auto_readout_is_the_release_recommendation(tmp_path):
    import json

    from molmtd.artifact import ArtifactError, make_random_artifact

    art = make_random_artifact(tmp_path / "art", seed=0, hidden_dim=32)
    assert MTDFeaturizer(art).transform(SMILES).shape == (len(SMILES), 32)  # none recommended
    config = json.loads((art / "config.json").read_text())
    (art / "config.json").write_text(json.dumps({**config, "readout": "layers"}))
    auto = MTDFeaturizer(art)
    assert auto.transform(SMILES).shape == (len(SMILES), 64) and auto.dim == 64
    np.testing.assert_array_equal(auto.transform(SMILES),
                                  MTDFeaturizer(art, readout="layers").transform(SMILES))
    assert MTDFeaturizer(art, readout="embedding").transform(SMILES).shape[1] == 32
    (art / "config.json").write_text(json.dumps({**config, "readout": "last"}))
    with pytest.raises(ArtifactError, match="recommended readout 'last' is not one of"):
        MTDFeaturizer(art).transform(SMILES)


def test_constructor_stores_only_and_fit_checks(tmp_path):
    f = MTDFeaturizer(tmp_path / "missing", batch_size=7)
    assert f.get_params() == {"featurizer": tmp_path / "missing", "batch_size": 7,
                              "device": "cpu", "n_jobs": 1, "readout": "auto",
                              "on_error": "raise", "precision": "fp32"}
    assert not hasattr(f, "_artifact_cache")
    with pytest.raises(FileNotFoundError, match="neither a directory"):
        f.fit(SMILES)


@pytest.mark.parametrize(("params", "message"), [
    ({"batch_size": 0}, "The 'batch_size' parameter of MTDFeaturizer must be an int in the range"),
    ({"on_error": "skip"}, "The 'on_error' parameter of MTDFeaturizer must be a str among"),
    ({"featurizer": 3}, "The 'featurizer' parameter of MTDFeaturizer must be"),
    ({"n_jobs": 0}, r"The 'n_jobs' parameter of MTDFeaturizer must be .*\[1, inf\). Got 0"),
    ({"readout": "last"}, "The 'readout' parameter of MTDFeaturizer must be a str among"),
])
def test_parameters_validated_at_fit_and_transform(artifact, params, message):
    f = MTDFeaturizer(**{"featurizer": artifact, **params})
    with pytest.raises(ValueError, match=message):
        f.fit(SMILES)
    with pytest.raises(ValueError, match=message):
        f.transform(SMILES)


def test_fit_loads_nothing_and_sets_fitted_attributes(artifact):
    f = MTDFeaturizer(artifact)
    check_is_fitted(f)  # stateless: usable without fit
    f.fit(pd.DataFrame({"smiles": SMILES}))
    assert f.n_features_in_ == 1 and list(f.feature_names_in_) == ["smiles"]
    assert not hasattr(f, "_artifact_cache")


def test_pipeline_fits_and_predicts_on_smiles(artifact, reference):
    y = heavy_atoms(SMILES)
    pipe = Pipeline([("f", MTDFeaturizer(artifact)), ("m", RidgeCV())])
    pred = pipe.fit(SMILES[:8], y[:8]).predict(SMILES[8:])
    manual = RidgeCV().fit(reference[:8], y[:8]).predict(reference[8:])
    np.testing.assert_allclose(pred, manual, rtol=1e-5)


def test_gridsearch_clones_the_featurizer(artifact):
    y = heavy_atoms(SMILES)
    feat = MTDFeaturizer(artifact)
    grid = GridSearchCV(Pipeline([("f", feat), ("m", RidgeCV())]),
                        {"f__batch_size": [2, 64]}, cv=2, scoring="neg_mean_squared_error")
    grid.fit(SMILES, y)
    best = grid.best_estimator_.named_steps["f"]
    assert best is not feat and best.batch_size in (2, 64)
    assert not hasattr(feat, "_artifact_cache")  # the original was only cloned, never used
    assert grid.predict(SMILES[:3]).shape == (3,)
    twin = clone(feat)
    assert twin is not feat and twin.get_params() == feat.get_params()


def test_pickle_round_trip_gives_identical_output(artifact, reference):
    f = MTDFeaturizer(artifact)
    f.fit_transform(SMILES)
    assert hasattr(f, "_artifact_cache")
    blob = pickle.dumps(f)
    assert len(blob) < 10_000  # the model is not in the pickle: it reloads lazily
    g = pickle.loads(blob)
    assert not hasattr(g, "_artifact_cache")
    np.testing.assert_array_equal(g.transform(SMILES), reference)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(g)).transform(SMILES), reference)


@pytest.mark.parametrize("make", [
    tuple,
    np.array,
    lambda s: np.array(s, dtype=object).reshape(-1, 1),
    lambda s: pd.Series(s, name="smiles"),
    lambda s: pd.DataFrame({"smiles": s}),
    lambda s: [Chem.MolFromSmiles(x) for x in s],
])
def test_accepted_input_containers(artifact, reference, make):
    np.testing.assert_allclose(MTDFeaturizer(artifact).transform(make(SMILES)), reference,
                               atol=1e-6)


def test_rejected_input_containers(artifact):
    f = MTDFeaturizer(artifact)
    with pytest.raises(ValueError, match="one column of SMILES or Mols, got a DataFrame with 2"):
        f.transform(pd.DataFrame({"a": SMILES, "b": SMILES}))
    with pytest.raises(ValueError, match="wrap it in a list"):
        f.transform("CCO")


def test_on_error_nan_rows_exactly_at_bad_positions_with_warning(artifact, reference):
    items = ["CCO", "not-a-smiles", "c1ccccc1O", None, "", Chem.MolFromSmiles("CCN(CC)CC"), 42]
    bad = [1, 3, 4, 6]
    with pytest.warns(UserWarning, match="4 of 7 molecules could not be embedded") as record:
        X = MTDFeaturizer(artifact, on_error="nan").transform(items)
    assert X.shape == (7, reference.shape[1])
    assert np.flatnonzero(np.isnan(X).all(axis=1)).tolist() == bad
    assert np.isfinite(np.delete(X, bad, axis=0)).all()
    np.testing.assert_allclose(X[[0, 2, 5]], reference[[0, 1, 3]], atol=1e-6)
    message = str(record[0].message)
    for expected in ("input 1 ('not-a-smiles'): unparseable SMILES", "input 3: empty input",
                     "input 4 (''): empty input", "input 6: expected a SMILES string or RDKit "
                     "Mol, got int"):
        assert expected in message


def test_on_error_nan_without_failures_does_not_warn(artifact):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MTDFeaturizer(artifact, on_error="nan").transform(SMILES[:3])


@pytest.mark.parametrize(("items", "position", "reason"), [
    (["CCO", "C1CC", "xx", "CCN"], 1, "unparseable SMILES"),
    ([None, "xx"], 0, "empty input"),
    (["CCO", "c1ccccc1", "C(C)(C)(C)(C)C"], 2, "sanitization failed"),
])
def test_on_error_raise_names_first_bad_position_and_reason(artifact, items, position, reason):
    with pytest.raises(InvalidMoleculeError, match=f"input {position}") as info:
        MTDFeaturizer(artifact).transform(items)
    assert info.value.position == position
    assert reason in info.value.reason


def test_set_output_pandas_and_feature_names(artifact, reference):
    f = MTDFeaturizer(artifact).set_output(transform="pandas")
    index = pd.Index([f"m{i}" for i in range(len(SMILES))])
    out = f.fit_transform(pd.DataFrame({"smiles": SMILES}, index=index))
    names = f.get_feature_names_out()
    assert list(out.columns) == list(names) == [f"mtd_{i}" for i in range(reference.shape[1])]
    assert out.index.equals(index)
    np.testing.assert_array_equal(out.to_numpy(), reference)


def test_works_inside_a_column_transformer(artifact, reference):
    df = pd.DataFrame({"smiles": SMILES, "dose": np.arange(len(SMILES), dtype=float)})
    ct = ColumnTransformer([("mtd", MTDFeaturizer(artifact), ["smiles"]),
                            ("num", "passthrough", ["dose"])])
    X = ct.fit_transform(df)
    assert X.shape == (len(SMILES), reference.shape[1] + 1)
    np.testing.assert_allclose(X[:, :-1], reference, atol=1e-6)
    np.testing.assert_array_equal(X[:, -1], df["dose"].to_numpy())
    names = ct.get_feature_names_out()
    assert names[0] == "mtd__mtd_0" and names[-1] == "num__dose"
    series_ct = ColumnTransformer([("mtd", MTDFeaturizer(artifact), "smiles")])
    np.testing.assert_allclose(series_ct.fit_transform(df), reference, atol=1e-6)


def test_load_featurizer(artifact, reference, tmp_path):
    f = load_featurizer(artifact)
    assert hasattr(f, "_artifact_cache")
    np.testing.assert_array_equal(f.transform(SMILES), reference)
    with pytest.raises(FileNotFoundError, match="released featurizer name"):
        load_featurizer("no-such-featurizer")


def test_overlapped_workers_equal_one_process(artifact, monkeypatch):
    """Standardisation + graphs in workers overlapped with the student: same rows and
    reasons as one process, across chunk boundaries and batches that straddle chunks."""
    import molmtd.artifact

    items = (SMILES + ["C1CC", None, "CC(=O)[O-].[Na+]"] + SMILES[::-1]) * 3
    one = MTDFeaturizer(artifact, batch_size=5, on_error="nan").embed(items)
    monkeypatch.setattr(molmtd.artifact, "_MIN_PARALLEL", 0)
    monkeypatch.setattr(molmtd.artifact, "_CHUNK", 7)
    many = MTDFeaturizer(artifact, batch_size=5, n_jobs=2, on_error="nan").embed(items)
    assert many.reasons == one.reasons and np.array_equal(many.ok, one.ok)
    np.testing.assert_allclose(many.embeddings, one.embeddings, atol=1e-6)
    assert np.isnan(many.embeddings[~many.ok]).all()


def test_all_cores_means_one_process_on_two_cores(monkeypatch):
    """n_jobs=-1 starts workers only where there are more than two cores (on two, the
    one-process path with two torch threads is faster); an explicit n_jobs is kept."""
    import joblib

    from molmtd.artifact import _n_workers

    monkeypatch.setattr(joblib, "cpu_count", lambda: 2)
    assert _n_workers(-1) == 1
    assert _n_workers(2) == 2
    assert _n_workers(-1, "int8") == 2  # the int8 student no longer bounds the overlap
    monkeypatch.setattr(joblib, "cpu_count", lambda: 8)
    assert _n_workers(-1) == 8
    assert _n_workers(1) == 1
