"""The Mordred descriptor teacher: shape, masking, the signed-log compression, registry."""

import numpy as np
import pytest

from molmtd.teachers import get_teacher, list_teachers

pytest.importorskip("mordred", reason="mordredcommunity is not installed")


@pytest.fixture(scope="module")
def teacher():
    return get_teacher("mordred", n_jobs=1)


def test_registered_as_a_descriptor_teacher():
    info = {i.name: i for i in list_teachers()}["mordred"]
    assert info.family == "descriptor"


def test_mixed_batch_shape_mask_reasons_and_values(teacher, mixed, check_output):
    small = mixed[:20]  # the BAD positions 3 and 17 are inside; mordred is ~100 ms/molecule
    out = teacher.embed(small)
    assert teacher.dim > 1500
    assert out.embeddings.shape == (20, teacher.dim)
    assert sorted(np.flatnonzero(~out.ok)) == [3, 17]
    assert out.reasons == {3: "unparseable SMILES", 17: "empty input"}
    assert np.isnan(out.embeddings[~out.ok]).all()
    assert np.isfinite(out.embeddings[out.ok]).all()
    # signed log: |value| <= log1p(float64 max) and most columns vary between molecules
    assert np.abs(out.embeddings[out.ok]).max() < 710
    assert (out.embeddings[out.ok].std(0) > 0).mean() > 0.5


def test_values_are_signed_log_of_mordred_output(teacher):
    from mordred import Calculator, descriptors
    from rdkit import Chem

    smiles = "CC(=O)Nc1ccc(O)cc1"
    raw = np.array(list(Calculator(descriptors, ignore_3D=True)(Chem.MolFromSmiles(smiles))
                        .fill_missing(np.nan)), dtype=np.float64)
    got = teacher.embed([smiles]).embeddings[0]
    expected = np.sign(raw) * np.log1p(np.abs(raw))
    expected[~np.isfinite(expected)] = 0.0
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=1e-6)
    names = teacher.columns
    assert len(names) == teacher.dim and "nAcid" in names
    weight = np.expm1(got[names.index("MW")])
    assert weight == pytest.approx(151.063, abs=0.01)  # exact mass of paracetamol


def test_spec_and_version_are_cache_keys(teacher):
    assert teacher.spec == "mordred"
    assert "mordredcommunity=" in teacher.version
