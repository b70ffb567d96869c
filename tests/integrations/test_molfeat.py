"""MTDMoleculeTransformer through molfeat's own API (calls, state dicts, plugins)."""

from __future__ import annotations

import pickle
import sys
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("molfeat")

import molfeat.plugins.entry_point as molfeat_entry_points  # noqa: E402
from molfeat.trans import MoleculeTransformer  # noqa: E402

from molmtd.artifact import make_random_artifact  # noqa: E402
from molmtd.errors import InvalidMoleculeError  # noqa: E402
from molmtd.featurizer import MTDFeaturizer  # noqa: E402
from molmtd.integrations.molfeat import MTDMoleculeTransformer  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1", "C1CCNCC1"]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> str:
    return str(make_random_artifact(tmp_path_factory.mktemp("art") / "rand", seed=1))


@pytest.fixture(scope="module")
def reference(artifact) -> np.ndarray:
    return MTDFeaturizer(artifact).transform(SMILES)


def test_call_matches_mtd_featurizer(artifact, reference):
    t = MTDMoleculeTransformer(kind=artifact)
    X = t(SMILES)
    assert isinstance(X, np.ndarray) and X.dtype == np.float32
    np.testing.assert_array_equal(X, reference)
    assert len(t) == reference.shape[1]
    np.testing.assert_array_equal(t.transform(SMILES), reference)


def test_ignore_errors_follows_molfeat_convention(artifact, reference):
    t = MTDMoleculeTransformer(kind=artifact)
    items = ["CCO", "xx", "c1ccccc1O", ""]
    feats, ids = t(items, ignore_errors=True)
    assert list(ids) == [0, 2]
    np.testing.assert_allclose(np.asarray(feats), reference[[0, 1]], atol=1e-6)
    raw = t.transform(items, ignore_errors=True)
    assert raw[1] is None and raw[3] is None
    with pytest.raises(InvalidMoleculeError, match="input 1 .*unparseable SMILES") as info:
        t(items)
    assert info.value.position == 1


def test_state_dict_round_trip_through_molfeat(artifact, reference):
    t = MTDMoleculeTransformer(kind=artifact, batch_size=4)
    state = t.to_state_dict()
    assert state["name"] == "MTDMoleculeTransformer"
    assert state["args"]["kind"] == artifact and state["args"]["batch_size"] == 4
    restored = MoleculeTransformer.from_state_yaml(t.to_state_yaml())
    assert isinstance(restored, MTDMoleculeTransformer) and restored.batch_size == 4
    np.testing.assert_allclose(restored(SMILES), reference, atol=1e-6)


def test_pickle_drops_the_model_and_reloads(artifact, reference):
    t = MTDMoleculeTransformer(kind=artifact)
    t(SMILES[:2])
    blob = pickle.dumps(t)
    assert b"_mtd_cache" not in blob
    np.testing.assert_array_equal(pickle.loads(blob)(SMILES), reference)


def test_dataframe_dtype_and_batch_transform(artifact, reference):
    df = MTDMoleculeTransformer(kind=artifact, dtype=pd.DataFrame)(SMILES)
    assert list(df.columns) == [f"mtd_{i}" for i in range(reference.shape[1])]
    np.testing.assert_array_equal(df.to_numpy(), reference)
    t = MTDMoleculeTransformer(kind=artifact)
    batched = MoleculeTransformer.batch_transform(t, SMILES, batch_size=4, progress=False)
    np.testing.assert_allclose(batched, reference, atol=1e-6)


def test_set_params_rebuilds_the_model(artifact, tmp_path, reference):
    other = str(make_random_artifact(tmp_path / "other", seed=7))
    t = MTDMoleculeTransformer(kind=artifact)
    np.testing.assert_array_equal(t(SMILES), reference)
    t.set_params(kind=other)
    assert not np.allclose(t(SMILES), reference)


def _declared_molfeat_entry_points() -> list[EntryPoint]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = project.get("entry-points", {})
    return [EntryPoint(name, value, group) for group, items in groups.items()
            if group.startswith("molfeat") for name, value in items.items()]


def test_pyproject_entry_point_is_discovered_by_molfeat(monkeypatch):
    declared = _declared_molfeat_entry_points()
    assert declared, "pyproject.toml declares no molfeat plugin entry point"
    assert {ep.group for ep in declared} <= set(
        molfeat_entry_points.ENTRY_POINT_GROUP_FACTORYCLASS_MAPPING), (
        f"molfeat only scans {sorted(molfeat_entry_points.ENTRY_POINT_GROUP_FACTORYCLASS_MAPPING)}"
        f"; pyproject declares {sorted({ep.group for ep in declared})}")
    import molfeat.trans.pretrained as pretrained

    monkeypatch.setattr(molfeat_entry_points, "eps", lambda: EntryPoints(declared))
    monkeypatch.setattr(pretrained, "MTDMoleculeTransformer", None, raising=False)
    molfeat_entry_points.load_registered_plugins(add_submodules=False)
    assert pretrained.MTDMoleculeTransformer is MTDMoleculeTransformer


def test_installed_metadata_registers_the_plugin():
    found = entry_points(group="molfeat.trans.pretrained", name="molmtd")
    if not found:
        pytest.skip("the installed molmtd metadata has no molfeat plugin entry point yet; "
                    "reinstall molmtd (pip install -e .) after fixing pyproject.toml")
    assert next(iter(found)).load() is MTDMoleculeTransformer
