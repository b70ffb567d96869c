"""The eosce teacher (Ersilia Compound Embeddings) on MOSES molecules with bad inputs mixed in:
shape, masks, determinism, equality with eosce's own call, declared training labels."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from molmtd.errors import TeacherUnavailableError
from molmtd.teachers import get_teacher
from molmtd.teachers.eosce import EOSCE_DIM

needs_eosce = pytest.mark.skipif(
    importlib.util.find_spec("eosce") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="eosce (pip install --no-deps eosce==0.2.0) or onnxruntime is not installed")

# 300 chained CH2 groups: one Morgan environment occurs 298 times, past eosce's int8 counts
LONG_CHAIN = "C" * 300


def test_module_imports_without_backends():
    code = ("import sys, molmtd.teachers.eosce; print([m for m in ('eosce', 'onnxruntime', "
            "'joblib') if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_missing_wheel_says_how_to_install(monkeypatch):
    from molmtd.teachers import eosce

    monkeypatch.setattr(eosce, "_package_dir", lambda: None)
    ok, reason = eosce.EosceTeacher.available()
    assert not ok and "pip install --no-deps eosce==0.2.0" in reason
    with pytest.raises(TeacherUnavailableError, match=r"pip install --no-deps eosce==0\.2\.0"):
        eosce.EosceTeacher().embed(["CCO"])


def test_spec_dim_and_declared_labels_need_no_model():
    teacher = get_teacher("eosce", n_jobs=1, batch_size=7)
    assert teacher.spec == "eosce"  # batch_size, n_jobs and device do not change the output
    assert teacher.dim == EOSCE_DIM == 1024
    # FS-Mol's ChEMBL assays: declared, and matching none of molmtd's benchmark tasks
    from molmtd.downstream.datasets import dataset_info, dataset_names

    assert teacher.trained_on() == frozenset({"FS-Mol_ChEMBL_assays"})
    assert not [d for d in dataset_names()
                if teacher.trained_on() & set(dataset_info(d).label_tasks)]


@pytest.fixture(scope="module")
def teacher():
    if importlib.util.find_spec("eosce") is None:
        pytest.skip("eosce is not installed")
    return get_teacher("eosce", n_jobs=1, batch_size=16)


@needs_eosce
@pytest.mark.teachers
def test_embeds_and_masks_bad_molecules(teacher, mixed, check_output):
    out = teacher.embed(mixed)
    check_output(out, len(mixed), EOSCE_DIM)
    again = teacher.embed(mixed)
    assert np.array_equal(out.embeddings, again.embeddings, equal_nan=True)
    assert "eosce=0.2.0" in teacher.version and "model=" in teacher.version


@needs_eosce
@pytest.mark.teachers
def test_rows_do_not_depend_on_batching_or_neighbours(teacher, mixed, valid_of):
    valid = valid_of(mixed)[:20]
    whole = teacher.embed(valid).embeddings
    one_by_one = get_teacher("eosce", n_jobs=1, batch_size=1).embed(valid[::-1]).embeddings
    np.testing.assert_allclose(whole, one_by_one[::-1], rtol=1e-5, atol=1e-6)


@needs_eosce
@pytest.mark.teachers
def test_equals_eosces_own_call(teacher, mixed, valid_of):
    from eosce.models import ErsiliaCompoundEmbeddings

    valid = valid_of(mixed)
    ref = ErsiliaCompoundEmbeddings().transform(valid)
    out = teacher.embed(mixed)
    np.testing.assert_allclose(out.embeddings[out.ok], ref, rtol=1e-5, atol=1e-6)


@needs_eosce
@pytest.mark.teachers
def test_masks_what_eosce_cannot_featurise(teacher):
    from eosce.models import ErsiliaCompoundEmbeddings

    with pytest.raises(Exception):  # noqa: B017 - int8 overflow, raised through Boost.Python
        ErsiliaCompoundEmbeddings().transform([LONG_CHAIN])
    out = teacher.embed(["CCO", LONG_CHAIN, "[Na+].[Cl-]"])
    assert out.ok.tolist() == [True, False, True]
    assert out.reasons == {1: "a Morgan substructure occurs 298 times: eosce's featurisation "
                               "stores counts as int8 (at most 127)"}
