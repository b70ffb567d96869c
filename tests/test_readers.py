"""iter_molecule_chunks: the same rows as read_molecules, in chunks, and clear errors."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from molmtd.corpus import read_molecules
from molmtd.errors import InputFileError
from molmtd.readers import count_rows, input_fingerprint, iter_molecule_chunks

ROWS = ["CCO", "not_a_smiles", "", "c1ccccc1", "OCC", "[Na+].[Cl-]", "CC(=O)O"]


def _write(tmp_path, fmt: str):
    path = tmp_path / f"in.{fmt}"
    if fmt.startswith("smi"):
        text = "smiles\n" + "".join(f"{r}\tname{i}\n" for i, r in enumerate(ROWS))
        if fmt.endswith(".gz"):
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
    elif fmt.startswith(("csv", "tsv")):
        df = pd.DataFrame({"id": range(len(ROWS)), "SMILES": ROWS})
        df.to_csv(path, sep="\t" if fmt.startswith("tsv") else ",", index=False)
    elif fmt == "parquet":
        pd.DataFrame({"id": range(len(ROWS)), "smiles": ROWS}).to_parquet(path)
    elif fmt == "sdf":
        from rdkit import Chem

        with Chem.SDWriter(str(path)) as w:
            for s in ("CCO", "c1ccccc1", "CC(=O)O"):
                w.write(Chem.MolFromSmiles(s))
    return path


@pytest.mark.parametrize("fmt", ["smi", "smi.gz", "csv", "csv.gz", "tsv", "parquet", "sdf"])
@pytest.mark.parametrize("size", [1, 3, 100])
def test_chunks_concatenate_to_read_molecules(tmp_path, fmt, size):
    path = _write(tmp_path, fmt)
    chunks = list(iter_molecule_chunks(path, chunk_size=size))
    assert all(len(c) == size for c in chunks[:-1]) and 0 < len(chunks[-1]) <= size
    flat = [s for c in chunks for s in c]
    assert flat == read_molecules(path)
    assert count_rows(path) == len(flat)


def test_truncated_gzip_names_the_rows_read_and_the_fix(tmp_path):
    path = tmp_path / "big.smi.gz"
    data = gzip.compress("".join(f"{'C' * (1 + i % 30)}O\n" for i in range(20000)).encode())
    path.write_bytes(data[: len(data) // 2])
    chunks = iter_molecule_chunks(path, chunk_size=1000)
    got = []
    with pytest.raises(InputFileError, match=r"ends early.*gzip -t.*--resume") as err:
        for c in chunks:
            got.append(c)
    assert got and all(len(c) == 1000 for c in got)  # every complete chunk came first
    import re

    rows = int(re.search(r"after (\d+) rows", str(err.value)).group(1))
    assert len(got) * 1000 <= rows < (len(got) + 1) * 1000


def test_missing_column_is_reported_before_reading(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"id": [1], "structure": ["CCO"]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"no column named 'smiles'.*'structure'.*--column"):
        iter_molecule_chunks(path)
    assert next(iter(iter_molecule_chunks(path, column="structure"))) == ["CCO"]


def test_not_parquet_and_unknown_format(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputFileError, match="not a readable parquet"):
        iter_molecule_chunks(bad)
    with pytest.raises(ValueError, match="unknown molecule file format"):
        iter_molecule_chunks(_write(tmp_path, "smi").rename(tmp_path / "x.xyz"))
    with pytest.raises(FileNotFoundError):
        iter_molecule_chunks(tmp_path / "missing.smi")


def test_fingerprint_changes_with_the_content(tmp_path):
    a = _write(tmp_path, "smi")
    before = input_fingerprint(a)
    a.write_text(a.read_text().replace("CCO", "CCN"))
    assert input_fingerprint(a) != before
