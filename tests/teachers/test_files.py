"""The files teacher: precomputed embeddings keyed by SMILES."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from molmtd.errors import TeacherSpecError
from molmtd.teachers import get_teacher

# file SMILES are deliberately non-canonical: "OCC" must serve the corpus key "CCO"
FILE_SMILES = ["OCC", "c1ccccc1", "C(=O)O", "NCC(=O)O"]
KEYS = ["CCO", "c1ccccc1", "O=CO", "NCC(=O)O"]
EMB = np.arange(12, dtype=np.float32).reshape(4, 3) / 7.0


def _write(tmp_path, fmt: str, smiles=FILE_SMILES, emb=EMB, name="emb") -> str:
    path = tmp_path / f"{name}.{fmt}"
    if fmt == "npz":
        np.savez(path, smiles=np.array(smiles), embeddings=emb)
    elif fmt == "csv":
        df = pd.DataFrame(emb, columns=[f"e{i}" for i in range(emb.shape[1])])
        df.insert(0, "SMILES", smiles)  # auto-detected case-insensitively
        df.to_csv(path, index=False)
    else:  # parquet with one list-valued column
        pd.DataFrame({"Smiles": smiles, "vec": list(emb)}).to_parquet(path)
    return str(path)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "npz"])
def test_formats_standardised_lookup_and_missing(tmp_path, fmt):
    teacher = get_teacher(f'files:path="{_write(tmp_path, fmt)}"')
    assert teacher.dim == 3
    query = ["NCC(=O)O", "CCO", "CCCC", "O=CO"]
    out = teacher.embed(query)
    assert out.embeddings.shape == (4, 3) and out.embeddings.dtype == np.float32
    assert out.ok.tolist() == [True, True, False, True]
    np.testing.assert_allclose(out.embeddings[0], EMB[3], rtol=1e-6)
    np.testing.assert_allclose(out.embeddings[1], EMB[0], rtol=1e-6)  # "OCC" -> "CCO"
    np.testing.assert_allclose(out.embeddings[3], EMB[2], rtol=1e-6)
    assert np.isnan(out.embeddings[2]).all()
    assert out.reasons == {2: f"not in {teacher.path}"}


def test_numeric_columns_parquet_with_explicit_column(tmp_path):
    path = tmp_path / "wide.parquet"
    df = pd.DataFrame(EMB, columns=["a", "b", "c"])
    df.insert(1, "mol", FILE_SMILES)
    df.to_parquet(path)
    teacher = get_teacher(f'files:path="{path}",column=mol')
    assert teacher.spec == f"files:column=mol,path={path}"  # quoted only when it needs it
    np.testing.assert_allclose(teacher.embed(["CCO"]).embeddings[0], EMB[0], rtol=1e-6)


def test_duplicate_molecule_with_different_vectors_is_an_error(tmp_path):
    emb = np.vstack([EMB, EMB[0] + 1])
    path = _write(tmp_path, "npz", FILE_SMILES + ["CCO"], emb)
    with pytest.raises(TeacherSpecError, match=r"rows 0 \('OCC'\) and 4 \('CCO'\).*same molecule"):
        get_teacher(f'files:path="{path}"').embed(["CCO"])


def test_duplicate_with_identical_vectors_is_fine(tmp_path):
    path = _write(tmp_path, "npz", FILE_SMILES + ["CCO"], np.vstack([EMB, EMB[0]]))
    assert get_teacher(f'files:path="{path}"').embed(["CCO"]).ok.all()


def test_unstandardisable_rows_are_skipped_with_warning(tmp_path, caplog):
    path = _write(tmp_path, "csv", FILE_SMILES[:3] + ["not_a_smiles"], EMB)
    with caplog.at_level(logging.WARNING, logger="molmtd.teachers.files"):
        out = get_teacher(f'files:path="{path}"').embed(["CCO", "O=CO"])
    assert out.ok.all()
    assert "skipped 1 of 4 rows" in caplog.text and "row 3" in caplog.text


def test_nonfinite_row_is_masked(tmp_path):
    emb = EMB.copy()
    emb[1, 0] = np.nan
    teacher = get_teacher(f'files:path="{_write(tmp_path, "npz", emb=emb)}"')
    out = teacher.embed(["c1ccccc1", "CCO"])
    assert out.ok.tolist() == [False, True]
    assert "non-finite" in out.reasons[0]


def test_version_is_content_hash(tmp_path):
    a = get_teacher(f'files:path="{_write(tmp_path, "npz", name="a")}"')
    b = get_teacher(f'files:path="{_write(tmp_path, "npz", name="b")}"')
    c = get_teacher(f'files:path="{_write(tmp_path, "npz", emb=EMB + 1, name="c")}"')
    assert a.version == b.version != c.version


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        _ = get_teacher(f'files:path="{tmp_path / "nope.npz"}"').dim
    txt = tmp_path / "x.txt"
    txt.write_text("smiles\nCCO\n")
    with pytest.raises(TeacherSpecError, match="must be .parquet, .csv or .npz"):
        _ = get_teacher(f'files:path="{txt}"').dim
    csv = tmp_path / "noname.csv"
    pd.DataFrame({"mol": ["CCO"], "e0": [1.0]}).to_csv(csv, index=False)
    with pytest.raises(TeacherSpecError, match="no SMILES column 'smiles'"):
        _ = get_teacher(f'files:path="{csv}"').dim
    mixed = tmp_path / "mixed.csv"
    pd.DataFrame({"smiles": ["CCO"], "id": ["x1"], "e0": [1.0]}).to_csv(mixed, index=False)
    with pytest.raises(TeacherSpecError, match=r"non-numeric column\(s\) \['id'\]"):
        _ = get_teacher(f'files:path="{mixed}"').dim


def test_constructor_does_no_io(tmp_path):
    teacher = get_teacher(f'files:path="{tmp_path / "later.npz"}"')  # file does not exist yet
    _write(tmp_path, "npz", name="later")
    assert teacher.dim == 3


def test_csv_with_one_list_column_and_lazy_single_load(tmp_path, monkeypatch):
    import molmtd.molecules

    path = tmp_path / "lists, with comma.csv"  # a path that must be quoted in the spec
    pd.DataFrame({"smiles": FILE_SMILES,
                  "emb": [str(list(map(float, row))) for row in EMB]}).to_csv(path, index=False)
    calls = []
    real = molmtd.molecules.standardize_many
    monkeypatch.setattr(molmtd.molecules, "standardize_many",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    teacher = get_teacher(f'files:path="{path}"', n_jobs=1)
    assert calls == []  # nothing read before use
    assert teacher.dim == 3
    out = teacher.embed(KEYS[::-1])
    teacher.embed(KEYS)
    assert calls == [1]  # the file was read and standardised once
    np.testing.assert_allclose(out.embeddings, EMB[::-1], rtol=1e-6)
    assert get_teacher(teacher.spec).spec == teacher.spec


def test_ragged_list_column_is_an_error(tmp_path):
    path = tmp_path / "ragged.parquet"
    pd.DataFrame({"smiles": ["CCO", "CCN"], "vec": [[1.0, 2.0], [1.0]]}).to_parquet(path)
    with pytest.raises(TeacherSpecError, match=r"lengths \[1, 2\]"):
        _ = get_teacher(f'files:path="{path}"').dim
