"""JT-VAE teacher on 50 MOSES molecules: shape, dtype, determinism, masks with reasons, and
equality with jtnnencoder's own call (as is where its decomposition agrees; with the two
documented RDKit fixes applied to the library on every molecule)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from molmtd.errors import TeacherUnavailableError
from molmtd.teachers import get_teacher

LAUROLACTAM = "O=C1CCCCCCCCCCCN1"  # 13-membered ring: not a JT-VAE vocabulary cluster
PHENYL_BPIN = "CC1(C)OB(c2ccccc2)OC1(C)C"  # boron is in no vocabulary cluster


@pytest.fixture(scope="module")
def teacher():
    pytest.importorskip("jtnnencoder")
    return get_teacher("jtvae", n_jobs=1)


@pytest.fixture(scope="module")
def library():
    """``JTNNEmbed`` with the wheel's model loaded once; set ``.smiles`` before calling it."""
    jtnnencoder = pytest.importorskip("jtnnencoder")
    return jtnnencoder.JTNNEmbed([])


def _library_call(library, smiles: list[str]) -> np.ndarray:
    library.smiles = list(smiles)
    return np.concatenate(library.get_features())  # a list of per-batch arrays


def _has_fused_rings(smiles: str) -> bool:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    ring = mol.GetRingInfo()
    return any(ring.NumBondRings(b.GetIdx()) > 1 for b in mol.GetBonds())


def test_jtvae_module_imports_without_its_backend():
    code = ("import sys, molmtd.teachers, molmtd.teachers.jtvae, molmtd.teachers.catalog; "
            "print([m for m in ('jtnnencoder', 'torch') if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "jtnnencoder" not in res.stdout


@pytest.mark.teachers
def test_jtvae_output_mask_and_determinism(teacher, mixed, check_output):
    assert teacher.spec == "jtvae" and teacher.dim == 56
    out = teacher.embed(mixed)
    check_output(out, len(mixed), 56)
    assert np.array_equal(out.embeddings, teacher.embed(mixed).embeddings, equal_nan=True)
    assert teacher.version.startswith("jtnnencoder=0.1,rdkit=")


@pytest.mark.teachers
def test_jtvae_equals_the_library_where_its_decomposition_agrees(teacher, library, mixed,
                                                                 valid_of):
    """Unfused molecules the unmodified library can embed with today's RDKit: same rows."""
    import torch

    runs = []
    for s in valid_of(mixed):
        if _has_fused_rings(s):
            continue  # today's RDKit cuts fused rings differently from training time
        try:
            with torch.no_grad():
                library.model.encode_latent_mean([s])
        except KeyError:  # a cluster spelled differently by today's RDKit (pyrrole, ...)
            continue
        runs.append(s)
    assert len(runs) >= 10
    out = teacher.embed(runs)
    assert out.ok.all()
    np.testing.assert_allclose(out.embeddings, _library_call(library, runs),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.teachers
def test_jtvae_equals_the_library_with_the_rdkit_fixes(teacher, library, mixed, valid_of,
                                                       monkeypatch):
    """Every valid molecule, fused rings included, against ``get_features`` with the two
    fixes the teacher makes (Kekulé clusters without aromatic flags; today's spelling of
    vocabulary entries) patched into the library."""
    from jtnnencoder.jtnn import mol_tree
    from rdkit import Chem

    def get_mol(smiles):
        mol = Chem.MolFromSmiles(smiles)
        if mol is not None:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        return mol

    valid = valid_of(mixed)
    assert any(_has_fused_rings(s) for s in valid)
    out = teacher.embed(valid)
    assert out.ok.all()
    monkeypatch.setattr(mol_tree, "get_mol", get_mol)
    monkeypatch.setattr(library.model.vocab, "vmap", dict(teacher._lookup))
    np.testing.assert_allclose(out.embeddings, _library_call(library, valid),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.teachers
def test_jtvae_masks_clusters_outside_the_vocabulary(teacher, library, moses_smiles):
    import torch

    batch = [moses_smiles[0], LAUROLACTAM, moses_smiles[1], PHENYL_BPIN, moses_smiles[2]]
    out = teacher.embed(batch)
    assert out.ok.tolist() == [True, False, True, False, True]
    assert out.reasons[1] == ("junction-tree cluster not in the JT-VAE vocabulary: "
                              "C1CCCCCCNCCCCC1")
    assert "not in the JT-VAE vocabulary" in out.reasons[3] and "B1OCCO1" in out.reasons[3]
    assert np.isnan(out.embeddings[[1, 3]]).all()
    alone = teacher.embed([moses_smiles[0], moses_smiles[1], moses_smiles[2]])
    np.testing.assert_allclose(out.embeddings[out.ok], alone.embeddings, rtol=1e-5, atol=1e-6)
    with pytest.raises(KeyError, match="C1CCCCCCNCCCCC1"), torch.no_grad():  # the library too
        library.model.encode_latent_mean([LAUROLACTAM])


@pytest.mark.teachers
def test_jtvae_masks_what_its_encoders_cannot_hold(teacher, library):
    import torch

    ring9 = "C1(C)C(C)C(C)C(C)C(C)C(C)C(C)C(C)C(C)C1"  # root cluster with 9 neighbours
    side9 = "CC1C(C)C(C)C(C)C(C)C(C)C(C)C(C)CC1C"  # 9 neighbours, not the root: fits
    batch = ["CCO", "CC(=O)[O-].[Na+]", ring9, side9, "c1ccccc1O"]
    out = teacher.embed(batch)
    assert out.ok.tolist() == [True, False, False, True, True]
    assert out.reasons[1].startswith("more than one fragment")
    assert out.reasons[2] == ("a junction-tree cluster with 9 neighbours: JT-VAE's tree "
                              "encoder allows 8 there")
    with pytest.raises(RuntimeError), torch.no_grad():  # the library fails the whole batch
        library.model.encode_latent_mean(["CCO", ring9])
    np.testing.assert_allclose(out.embeddings[[0, 3, 4]],
                               _library_call(library, ["CCO", side9, "c1ccccc1O"]),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.teachers
def test_jtvae_pickles_without_its_model(teacher, moses_smiles):
    import pickle

    first = teacher.embed(moses_smiles[:3])
    clone = pickle.loads(pickle.dumps(teacher))
    assert clone.spec == teacher.spec and not hasattr(clone, "_model")
    np.testing.assert_array_equal(clone.embed(moses_smiles[:3]).embeddings, first.embeddings)


def test_jtvae_is_listed_without_loading_its_model():
    from molmtd.teachers import list_teachers
    from molmtd.teachers.jtvae import JTVAETeacher

    info = {t.name: t for t in list_teachers()}["jtvae"]
    assert info.family == "gnn" and info.factory is JTVAETeacher
    teacher = JTVAETeacher()
    assert teacher.dim == 56 and not hasattr(teacher, "_model")


def test_jtvae_missing_package_says_how_to_install(monkeypatch):
    from molmtd.teachers.jtvae import JTVAETeacher

    monkeypatch.setitem(sys.modules, "jtnnencoder", None)  # find_spec and import both fail
    ok, reason = JTVAETeacher.available()
    assert not ok and "pip install 'molmtd[jtvae]'" in reason
    with pytest.raises(TeacherUnavailableError, match=r"pip install 'molmtd\[jtvae\]'"):
        JTVAETeacher().embed(["CCO"])


@pytest.mark.slow
@pytest.mark.teachers
def test_jtvae_worker_processes_give_the_same_rows(moses_smiles, monkeypatch):
    pytest.importorskip("jtnnencoder")
    from molmtd.teachers import jtvae

    monkeypatch.setattr(jtvae, "_MIN_PARALLEL", 100)
    smiles = list(moses_smiles[:300])
    one = get_teacher("jtvae", n_jobs=1).embed(smiles)
    two = get_teacher("jtvae", n_jobs=2).embed(smiles)
    assert np.array_equal(one.ok, two.ok)
    np.testing.assert_array_equal(one.embeddings, two.embeddings)
